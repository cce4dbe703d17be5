"""What the ResNet50 notebook uses besides the network itself, gathered under the classic course's name.

Each name comes from the module of the `signs` package whose job it is; open that module to read how it works:

- `signs.data`: load the SIGNS photos and prepare them for the network.
- `signs.training`: the training budget and recipe, saving the trained model.
- `signs.batchnorm`: BatchNorm's moving statistics, measured and recomputed.
- `signs.augmentation`: random changes to training photos.
- `signs.evaluation`: probabilities, confusion matrix, robustness to changed photos.
- `signs.plots`: every figure of the notebook.
- `signs.depth_experiments`: the experiments of section 1 (vanishing gradients and degradation).
- `signs.own_photo`: your own photo, read as a SIGNS photo and predicted.
- `signs.constants`: where the files are, and what a SIGNS photo is (6 classes, 64x64x3).
"""

from signs.augmentation import make_augmentation
from signs.batchnorm import accuracy_with_batch_statistics, recalibrate_batchnorm
from signs.constants import CLASS_COUNT, IMAGE_SHAPE, MODEL_PATH, NOTEBOOK_MODEL_PATH, display_path
from signs.data import convert_to_one_hot, load_dataset, prepare_examples, scale_images
from signs.evaluation import confusion_matrix, evaluate_robustness, format_robustness, predict_probabilities
from signs.h5_files import SignsDataError
from signs.own_photo import PhotoError, load_photo, predict_image
from signs.plots import (
    plot_augmentation_examples,
    plot_confusion_matrix,
    plot_degradation_curves,
    plot_gradient_profiles,
    plot_misclassified,
    plot_photo_prediction,
    plot_sign_samples,
    plot_training_curves,
)
from signs.training import TrainingRecipe, save_trained_model, train_with_recipe, training_budget

__all__ = [
    "CLASS_COUNT",
    "IMAGE_SHAPE",
    "MODEL_PATH",
    "NOTEBOOK_MODEL_PATH",
    "PhotoError",
    "SignsDataError",
    "TrainingRecipe",
    "accuracy_with_batch_statistics",
    "confusion_matrix",
    "convert_to_one_hot",
    "display_path",
    "evaluate_robustness",
    "format_robustness",
    "load_dataset",
    "load_photo",
    "make_augmentation",
    "plot_augmentation_examples",
    "plot_confusion_matrix",
    "plot_degradation_curves",
    "plot_gradient_profiles",
    "plot_misclassified",
    "plot_photo_prediction",
    "plot_sign_samples",
    "plot_training_curves",
    "predict_image",
    "predict_probabilities",
    "prepare_examples",
    "recalibrate_batchnorm",
    "save_trained_model",
    "scale_images",
    "train_with_recipe",
    "training_budget",
]
