"""The classifier: VGG16 base under a small head, with augmentation and VGG16 preprocessing inside.

Keeping preprocessing in the model means train, evaluate and predict all feed it the same thing,
raw RGB pixels in [0, 255], and cannot drift apart (the original project's validation data was
never rescaled). Augmentation layers are active only in training.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from genderface.augment import RandomAugment
from genderface.errors import GenderfaceError
from genderface.fsutil import atomic_path, write_json
from genderface.params import AugmentParams, ModelParams

BASE_NAME = "vgg16"


@keras.saving.register_keras_serializable(package="genderface")
class VGG16Preprocess(layers.Layer):
    """keras.applications.vgg16.preprocess_input as a layer (RGB to BGR, ImageNet mean removed)."""

    def call(self, inputs: keras.KerasTensor) -> keras.KerasTensor:
        return keras.applications.vgg16.preprocess_input(inputs)


def resolve_weights(weights: str) -> str | None:
    """Map model.weights to "imagenet", None, or a weights file path.

    A path may be Keras' published legacy file (vgg16_..._notop.h5) or a Keras 3 .weights.h5;
    Keras picks the format by the name.
    """
    if weights == "imagenet":
        return "imagenet"
    if weights == "none":
        return None
    path = Path(weights)
    if path.suffix != ".h5" or not path.is_file():
        raise GenderfaceError(
            f"model.weights {weights!r}: expected imagenet, none, or an existing VGG16 .h5 file"
        )
    return str(path)


def augmentation(params: AugmentParams, seed: int) -> keras.Sequential | None:
    """Flip, rotation, shear, zoom, shift and contrast as ONE resampling pass per image.

    One fused pass instead of Keras' one layer per transform: sharper images and about 3x the
    throughput (augment.py). All factors 0 and no flip leave augmentation out.
    """
    factors = (params.rotation, params.shear, params.zoom, params.translation, params.contrast)
    if not (params.flip or any(factors)):
        return None
    return keras.Sequential(
        [RandomAugment(params.flip, *factors, seed=seed, name="random_augment")], name="augment"
    )


def build_model(
    image_size: int, params: ModelParams, augment: AugmentParams, seed: int
) -> keras.Model:
    """Frozen VGG16 (include_top=False) + pooling + Dense/Dropout/L2 head + sigmoid output.

    The head normalises the pooled features first, so it learns at one learning rate whether the
    base carries ImageNet weights or random ones (the offline demo and tests).
    """
    weights = resolve_weights(params.weights)
    try:
        base = keras.applications.VGG16(
            include_top=False,
            weights="imagenet" if weights == "imagenet" else None,
            input_shape=(image_size, image_size, 3),
            name=BASE_NAME,
        )
    except Exception as err:  # only the ImageNet download can fail here
        raise GenderfaceError(
            f"model.weights imagenet: cannot download the VGG16 weights ({type(err).__name__}); "
            "check the network, or set model.weights to a local "
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
        ) from None
    if weights not in (None, "imagenet"):
        try:
            base.load_weights(weights)
        except (ValueError, OSError, KeyError) as err:
            raise GenderfaceError(
                f"model.weights {weights!r}: not VGG16 no-top weights ({err}); use Keras' "
                "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 or imagenet"
            ) from None
    base.trainable = False
    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    augment_layers = augmentation(augment, seed)
    x = augment_layers(inputs) if augment_layers else inputs
    x = VGG16Preprocess(name="vgg16_preprocess")(x)
    x = base(x, training=False)
    x = layers.GlobalAveragePooling2D()(x) if params.pooling == "avg" else layers.Flatten()(x)
    x = layers.BatchNormalization(momentum=0.9, name="head_norm")(x)
    x = layers.Dense(
        params.head_units,
        activation="relu",
        kernel_regularizer=keras.regularizers.L2(params.l2),
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        name="head_dense",
    )(x)
    x = layers.Dropout(params.dropout, seed=seed, name="head_dropout")(x)
    outputs = layers.Dense(
        1,
        activation="sigmoid",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1),
        name="probability",
    )(x)
    return keras.Model(inputs, outputs, name="genderface_vgg16")


@dataclass(frozen=True)
class Classifier:
    """A trained model with its class names (index = label; the sigmoid scores class 1)."""

    model: keras.Model
    classes: list[str]

    @property
    def image_size(self) -> int:
        return int(self.model.input_shape[1])


def save_classifier(classifier: Classifier, model_path: Path) -> None:
    """Write model.keras and its label sidecar model.json, each via a temporary name."""
    with atomic_path(model_path, suffix=".keras") as tmp:
        classifier.model.save(tmp)
    write_json(model_path.with_suffix(".json"), {"classes": classifier.classes})


def load_classifier(model_path: Path) -> Classifier:
    """Load model.keras and its sidecar, or say in one line which file is missing or broken."""
    sidecar = model_path.with_suffix(".json")
    for required in (model_path, sidecar):
        if not required.is_file():
            raise GenderfaceError(f"{required}: model file not found; run `dvc repro` first")
    try:
        model = keras.saving.load_model(model_path)
        classes = json.loads(sidecar.read_text())["classes"]
    except Exception as err:
        raise GenderfaceError(
            f"{model_path}: cannot load the model ({type(err).__name__}); rebuild it with dvc repro"
        ) from None
    return Classifier(model, classes)
