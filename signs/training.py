"""The training recipe: how much the notebook trains, with which settings, and saving the trained model.

`train_with_recipe` puts the parts together: BatchNorm momentum (`signs.batchnorm`), AdamW with a warm-up and a
cosine learning rate, label smoothing, mirrored and augmented batches (`signs.augmentation`) and the precision the
hardware supports (`signs.precision`).
"""

import dataclasses
import math
import os
from pathlib import Path

import keras

from signs.augmentation import make_augmentation, make_training_dataset
from signs.batchnorm import set_batchnorm_momentum
from signs.constants import MODEL_PATH
from signs.precision import choose_precision, with_precision

# nbgrader sets this variable (to "autograde") while it executes a notebook.
AUTOGRADE_ENV_VAR = "NBGRADER_EXECUTION"


@dataclasses.dataclass(frozen=True)
class TrainingBudget:
    """How much training the notebook does.

    Attributes:
        epochs: int, epochs of the recipe run.
        trap_epochs: int, epochs of the run that shows the moving-statistics
            trap.
        train_examples: int, or None for every training photo.
        test_examples: int, or None for every test photo, evaluated after
            training.
        save_model: bool, whether the notebook saves the trained model
            (not while autograding: a tiny run must not replace it).
        gradient_steps: int, gradient descent steps of section 1's
            vanishing-gradient experiment.
        experiment_epochs: int, epochs of section 1's degradation
            experiment.
        experiment_photos: int, or None for every training photo, in that
            experiment.
        run_eagerly: bool, whether Keras runs the training steps one
            operation at a time instead of compiling them into a graph
            first: slower per photo, but a run of a few steps then skips
            the compilation (about 20 s for ResNet50 on a CPU).
    """

    epochs: int
    trap_epochs: int
    train_examples: int | None
    test_examples: int | None
    save_model: bool
    gradient_steps: int
    experiment_epochs: int
    experiment_photos: int | None
    run_eagerly: bool


def training_budget():
    """The notebook's training budget.

    Returns:
        `TrainingBudget`: the full settings, or tiny ones (one training
        step on 16 photos, 16 test photos) when nbgrader is autograding, so
        that grading a class does not spend minutes of CPU per submission.
    """
    if os.environ.get(AUTOGRADE_ENV_VAR):
        return TrainingBudget(epochs=1, trap_epochs=1, train_examples=16, test_examples=16,
                              save_model=False, gradient_steps=2, experiment_epochs=1,
                              experiment_photos=16, run_eagerly=True)
    return TrainingBudget(epochs=4, trap_epochs=2, train_examples=None, test_examples=None,
                          save_model=True, gradient_steps=30, experiment_epochs=4,
                          experiment_photos=None, run_eagerly=False)


@dataclasses.dataclass(frozen=True)
class TrainingRecipe:
    """The settings of `train_with_recipe` (the notebook explains each one).

    Attributes:
        batch_size: int, photos per training step.
        batchnorm_momentum: float, weight of the old value in each update of
            BatchNormalization's moving mean and variance (Keras' default is
            0.99).
        peak_learning_rate: float, AdamW's learning rate at the end of the
            warm-up.
        warmup_epochs: float, epochs over which the learning rate rises
            linearly to its peak, before it follows a cosine down to 0.
        weight_decay: float, AdamW's decoupled weight decay.
        label_smoothing: float, share of each target spread over all classes.
        mirror: bool, whether half of the training photos, chosen at random
            each epoch, are mirrored left to right (a left hand becomes a
            right hand).
        augment_probability: float, chance that a training photo is randomly
            rotated, shifted, zoomed and relit (see `make_augmentation`)
            each time it is used; 0 turns that augmentation off.
        camera_augmentation: bool, whether the augmentation also imitates
            other cameras: wider shifts, zoom out to a smaller hand, white
            balance and blur (`make_augmentation(camera=True)`).
        precision: str, the numbers the training steps compute with:
            `"auto"` (see `choose_precision`), `"float32"`,
            `"mixed_bfloat16"` or `"mixed_float16"`. The model passed to
            `train_with_recipe` stays float32 in every case.
    """

    batch_size: int = 16
    batchnorm_momentum: float = 0.9
    peak_learning_rate: float = 2e-3
    warmup_epochs: float = 0.5
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    mirror: bool = True
    augment_probability: float = 0.5
    camera_augmentation: bool = False
    precision: str = "auto"


def learning_rate_schedule(recipe, steps_per_epoch, epochs):
    """Linear warm-up to the peak learning rate, then a cosine down to 0.

    Args:
        recipe: `TrainingRecipe`.
        steps_per_epoch: int, training steps in one epoch.
        epochs: int, epochs of the whole run.

    Returns:
        `keras.optimizers.schedules.CosineDecay` (a built-in schedule, so a
        saved model reloads without custom objects).
    """
    total_steps = steps_per_epoch * epochs
    warmup_steps = min(round(recipe.warmup_epochs * steps_per_epoch), total_steps - 1)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=recipe.peak_learning_rate / 10,
        decay_steps=total_steps - warmup_steps,
        warmup_target=recipe.peak_learning_rate,
        warmup_steps=warmup_steps,
    )


def compile_with_recipe(model, recipe, steps_per_epoch, epochs, run_eagerly=False):
    """Sets the BatchNorm momentum and compiles the model for the recipe.

    Args:
        model: a Keras model mapping (m, 64, 64, 3) images to (m, classes)
            softmax probabilities.
        recipe: `TrainingRecipe`.
        steps_per_epoch: int, training steps in one epoch.
        epochs: int, epochs of the whole run.
        run_eagerly: bool, see `TrainingBudget`.

    Returns:
        The same model, compiled (AdamW, with loss scaling when layers
        compute in float16; label-smoothed cross-entropy on one-hot targets,
        accuracy).
    """
    set_batchnorm_momentum(model, recipe.batchnorm_momentum)
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate_schedule(recipe, steps_per_epoch, epochs),
        weight_decay=recipe.weight_decay,
    )
    if any(layer.dtype_policy.name == "mixed_float16" for layer in model.layers):
        # float16 gradients of small losses underflow to 0 unless the loss is scaled up first.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            label_smoothing=recipe.label_smoothing
        ),
        metrics=["accuracy"],
        run_eagerly=run_eagerly,
    )
    return model


def train_with_recipe(model, X_train, Y_train, X_test, Y_test, epochs,
                      recipe=TrainingRecipe(), seed=0, callbacks=(), verbose=2,
                      run_eagerly=False):
    """Trains a model on SIGNS with the recipe, checking the test set after every epoch.

    In mixed precision (`recipe.precision`, see `choose_precision`) the
    steps run on a copy of the model that computes in 16 bits
    (`with_precision`); its weights are copied back at the end, so `model`
    stays float32 and so does Keras' global dtype policy.

    Args:
        model: a Keras model, (m, 64, 64, 3) images to (m, classes)
            probabilities; trained in place, and compiled with the recipe.
        X_train: float32 array (m, 64, 64, 3) from `scale_images`.
        Y_train: one-hot array (m, classes).
        X_test: float32 array (m_test, 64, 64, 3), checked after every epoch.
        Y_test: one-hot array (m_test, classes).
        epochs: int.
        recipe: `TrainingRecipe`.
        seed: int, seed of the shuffle and the augmentation.
        callbacks: extra Keras callbacks (they see the model being trained,
            the 16-bit copy in mixed precision).
        verbose: Keras' verbosity (2: one line per epoch).
        run_eagerly: bool, see `TrainingBudget`.

    Returns:
        `keras.callbacks.History`; `history.history` holds per-epoch `loss`,
        `accuracy`, `val_loss` and `val_accuracy` (the test set, evaluated
        with BatchNorm's moving statistics, in the training precision).
    """
    steps_per_epoch = math.ceil(len(X_train) / recipe.batch_size)
    compile_with_recipe(model, recipe, steps_per_epoch, epochs, run_eagerly)
    training_model = with_precision(model, choose_precision(recipe.precision))
    if training_model is not model:
        compile_with_recipe(training_model, recipe, steps_per_epoch, epochs, run_eagerly)
    dataset = make_training_dataset(
        X_train, Y_train, recipe.batch_size, recipe.mirror,
        make_augmentation(seed, recipe.camera_augmentation), recipe.augment_probability, seed
    )
    history = training_model.fit(
        dataset,
        epochs=epochs,
        validation_data=(X_test, Y_test),
        callbacks=list(callbacks),
        shuffle=False,  # the dataset reshuffles itself every epoch
        verbose=verbose,
    )
    if training_model is not model:
        model.set_weights(training_model.get_weights())
    return history


def save_trained_model(model, path=MODEL_PATH):
    """Saves a model's architecture and weights in the native Keras format.

    `model.save` would also store the optimizer's state (for AdamW, two more
    numbers per weight, so a file three times as large). The file written
    here holds an uncompiled copy instead: it predicts exactly as `model`,
    and can be compiled again to train further.

    Args:
        model: a Keras model.
        path: destination ending in `.keras`; its folder is created.

    Returns:
        `Path` of the saved file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Rebuilt from its configuration, the copy has the same layers but no
    # compiled optimizer (keras.models.clone_model would compile it again).
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    copy.save(path)
    return path
