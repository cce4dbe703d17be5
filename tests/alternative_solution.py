"""A second correct implementation of the graded functions, written differently from the reference on purpose.

It uses `tensorflow.keras` imports, named layers, the ReLU layer class, `keras.layers.add`, the shortcut computed
before the main path and the operands of the addition swapped. The public tests must accept it.
"""
from tensorflow.keras import Model, initializers, layers


def identity_block(X, f, filters, training=True, initializer=initializers.RandomUniform):
    """Same contract as the notebook's identity_block: (m, h, w, c) -> (m, h, w, filters[2])."""
    skip = X
    widths = list(filters)
    kernels = [1, f, 1]
    paddings = ["valid", "same", "valid"]
    out = X
    for index, (width, kernel, padding) in enumerate(zip(widths, kernels, paddings)):
        out = layers.Conv2D(width, (kernel, kernel), padding=padding, name=None,
                            kernel_initializer=initializer(seed=0))(out)
        out = layers.BatchNormalization(axis=-1)(out, training=training)
        if index < 2:
            out = layers.ReLU()(out)
    return layers.ReLU()(layers.add([skip, out]))


def convolutional_block(X, f, filters, s=2, training=True, initializer=initializers.GlorotUniform):
    """Same contract as the notebook's convolutional_block."""
    low, middle, wide = filters
    shortcut = layers.Conv2D(wide, 1, strides=(s, s), kernel_initializer=initializer(seed=0))(X)
    shortcut = layers.BatchNormalization(axis=3)(shortcut, training=training)

    main = layers.Conv2D(low, 1, strides=(s, s), kernel_initializer=initializer(seed=0))(X)
    main = layers.BatchNormalization(axis=3)(main, training=training)
    main = layers.Activation("relu")(main)
    main = layers.Conv2D(middle, f, padding="same", kernel_initializer=initializer(seed=0))(main)
    main = layers.BatchNormalization(axis=3)(main, training=training)
    main = layers.Activation("relu")(main)
    main = layers.Conv2D(wide, 1, kernel_initializer=initializer(seed=0))(main)
    main = layers.BatchNormalization(axis=3)(main, training=training)
    return layers.Activation("relu")(layers.Add()([shortcut, main]))


STAGES = [([64, 64, 256], 1, 3), ([128, 128, 512], 2, 4), ([256, 256, 1024], 2, 6), ([512, 512, 2048], 2, 3)]


def ResNet50(input_shape=(64, 64, 3), classes=6):
    """Same contract as the notebook's ResNet50, with the stages written as a loop over a table."""
    image = layers.Input(shape=input_shape, name="image")
    x = layers.ZeroPadding2D(padding=3, name="pad")(image)
    x = layers.Conv2D(64, 7, strides=2, name="stem_conv", kernel_initializer=initializers.GlorotUniform(seed=0))(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.MaxPooling2D(pool_size=3, strides=2, name="stem_pool")(x)
    for widths, stride, blocks in STAGES:
        x = convolutional_block(x, 3, widths, s=stride)
        for _ in range(blocks - 1):
            x = identity_block(x, 3, widths)
    x = layers.AveragePooling2D(pool_size=2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    probabilities = layers.Dense(classes, activation="softmax", name="probabilities",
                                 kernel_initializer=initializers.GlorotUniform(seed=0))(x)
    return Model(image, probabilities, name="resnet50_alternative")
