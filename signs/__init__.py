"""The library behind the ResNet50 notebook, one job per module.

The notebook imports them through `resnets_utils.py` (section 1 imports `depth_experiments` itself); tools and tests
import them directly.

- `constants`: where the project's files are, and what a SIGNS photo is (6 classes, 64x64x3).
- `h5_files`: the SIGNS `.h5` schema, and writing and reading one file.
- `build`: building the two SIGNS files from the upstream photo archive (`make data`).
- `data`: loading SIGNS and preparing it for a network.
- `camera_shift`: a fixed imitation of photos taken with another camera.
- `depth_experiments`: the two experiments of section 1 (vanishing gradients, degradation).
- `precision`, `batchnorm`, `augmentation`, `training`: the training recipe and its parts.
- `evaluation`: accuracy, confusion matrix and robustness of a trained model.
- `plots`: every figure the notebook shows.
- `own_photo`: reading a learner's own photo and predicting its sign.
"""
