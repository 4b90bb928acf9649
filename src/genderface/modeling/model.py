"""The classifier: VGG16 base under a small head, with augmentation and VGG16 preprocessing inside.

Keeping preprocessing in the model means train, evaluate and predict all feed it the same thing,
raw RGB pixels in [0, 255], and cannot drift apart. Augmentation layers are active only in
training.
"""

from pathlib import Path
from typing import Literal
from urllib.error import URLError

import keras
from keras import layers

from genderface.errors import GenderfaceError
from genderface.fsutil import disk_full
from genderface.modeling.augment import RandomAugment
from genderface.params import AugmentParams, ModelParams

BASE_NAME = "vgg16"
HEAD_NAME = "head"


@keras.saving.register_keras_serializable(package="genderface")
class VGG16Preprocess(layers.Layer):
    """keras.applications.vgg16.preprocess_input as a layer (RGB to BGR, ImageNet mean removed)."""

    def call(self, inputs: keras.KerasTensor) -> keras.KerasTensor:
        return keras.applications.vgg16.preprocess_input(inputs)


CUSTOM_LAYERS = {"VGG16Preprocess": VGG16Preprocess, "RandomAugment": RandomAugment}
"""The model's own layers, which a saved model names and loading needs."""


def resolve_weights(weights: str) -> str | None:
    """Map ModelParams.vgg16_weights to "imagenet", None, or a weights file path.

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
            f"model.weights_file {weights!r}: expected an existing VGG16 no-top .h5 file"
        )
    return str(path)


def augmentation(params: AugmentParams, seed: int) -> keras.Sequential | None:
    """Flip, rotation, shear, zoom, shift and contrast as ONE resampling pass per image.

    One fused pass instead of Keras' one layer per transform (augment.py says why). All factors
    0 and no flip leave augmentation out.
    """
    factors = (params.rotation, params.shear, params.zoom, params.translation, params.contrast)
    if not (params.flip or any(factors)):
        return None
    return keras.Sequential(
        [RandomAugment(params.flip, *factors, seed=seed, name="random_augment")], name="augment"
    )


VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
"""VGG16's conv blocks: filters and convolutions per block."""


def vgg16_batch_norm(image_size: int, seed: int) -> keras.Model:
    """VGG16's conv blocks with batch normalisation between each convolution and its ReLU.

    Layer names follow keras.applications.VGG16 (block{b}_conv{c}, block{b}_pool), so fine-tuning
    by block works alike. Normalised activations let every block learn at one learning rate from
    random weights, which plain VGG16 does not (docs/training.md).
    """
    inputs = keras.Input((image_size, image_size, 3), name="input")
    x = inputs
    for block, (filters, convolutions) in enumerate(VGG16_BLOCKS, start=1):
        for conv in range(1, convolutions + 1):
            name = f"block{block}_conv{conv}"
            x = layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=False,
                kernel_initializer=keras.initializers.HeNormal(seed=seed + 10 * block + conv),
                name=name,
            )(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn{conv}")(x)
            x = layers.ReLU(name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    return keras.Model(inputs, x, name=BASE_NAME)


LOCAL_WEIGHTS = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
_OFFLINE = f"or set model.weights to file and model.weights_file to a local {LOCAL_WEIGHTS}"


def _download_failure(err: Exception) -> GenderfaceError | None:
    """One line for the ImageNet download's failure (the network, or no room for the file), or
    None for any other error building VGG16 (a bug, to be seen as it is)."""
    full = disk_full(
        err,
        "the VGG16 weights to Keras' cache",
        f"free space there (~/.keras), set KERAS_HOME to a folder on a disk with room, {_OFFLINE}",
    )
    if full:
        return full
    for cause in (err, err.__context__):
        if isinstance(cause, (URLError, ConnectionError, TimeoutError)):
            return GenderfaceError(
                f"model.weights imagenet: cannot download the VGG16 weights "
                f"({type(cause).__name__}: {cause}); check the network, {_OFFLINE}"
            )
    return None


def _load_base(image_size: int, weights: str) -> keras.Model:
    resolved = resolve_weights(weights)
    try:
        base = keras.applications.VGG16(
            include_top=False,
            weights="imagenet" if resolved == "imagenet" else None,
            input_shape=(image_size, image_size, 3),
            name=BASE_NAME,
        )
    except Exception as err:  # Keras' get_file re-raises urllib's errors as a bare Exception
        failure = _download_failure(err)
        if failure is None:
            raise
        raise failure from err
    if resolved not in (None, "imagenet"):
        try:
            base.load_weights(resolved)
        except (ValueError, OSError, KeyError) as err:
            raise GenderfaceError(
                f"model.weights_file {resolved!r}: not VGG16 no-top weights ({err}); use Keras' "
                f"{LOCAL_WEIGHTS} or imagenet"
            ) from err
    return base


def _build_head(feature_shape: tuple[int, ...], params: ModelParams, seed: int) -> keras.Model:
    """Pooling + normalisation + Dense/Dropout/L2 + sigmoid, as its own model.

    A separate model so phase 1 can train it alone on cached base features (the bottleneck) and
    the same weights then sit in the full model. It normalises the pooled features first, so it
    learns at one learning rate whether the base carries ImageNet weights or random ones. The
    output stays float32 under mixed precision, for a numerically stable loss.
    """
    features = keras.Input(feature_shape, name="features")
    x = (
        layers.GlobalAveragePooling2D()(features)
        if params.pooling == "avg"
        else layers.Flatten()(features)
    )
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
        dtype="float32",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1),
        name="probability",
    )(x)
    return keras.Model(features, outputs, name=HEAD_NAME)


def build_model(
    image_size: int,
    params: ModelParams,
    augment: AugmentParams,
    seed: int,
    *,
    recipe: Literal["transfer", "scratch"],
) -> keras.Model:
    """Pixels -> augmentation -> VGG16 preprocessing -> VGG16 (include_top=False) -> head.

    Transfer: the base is frozen and called with training=False, so it stays in inference mode
    after it is unfrozen for fine-tuning (the keras-io transfer-learning recipe). Scratch: every
    layer trains from the start, batch normalisation included.
    """
    if params.batch_norm:
        base = vgg16_batch_norm(image_size, seed)
    else:
        base = _load_base(image_size, params.vgg16_weights)
    transfer = recipe == "transfer"
    base.trainable = not transfer
    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    augment_layers = augmentation(augment, seed)
    x = augment_layers(inputs) if augment_layers else inputs
    x = VGG16Preprocess(name="vgg16_preprocess")(x)
    x = base(x, training=False) if transfer else base(x)
    outputs = _build_head(base.output_shape[1:], params, seed)(x)
    return keras.Model(inputs, outputs, name="genderface_vgg16")


def feature_extractor(model: keras.Model) -> keras.Model:
    """Pixels -> VGG16 features through the model's own layers, without augmentation."""
    pixels = keras.Input(model.input_shape[1:], name="pixels")
    x = model.get_layer("vgg16_preprocess")(pixels)
    return keras.Model(pixels, model.get_layer(BASE_NAME)(x, training=False), name="features")


def head_of(model: keras.Model) -> keras.Model:
    return model.get_layer(HEAD_NAME)


def prepare_fine_tuning(model: keras.Model, blocks: int) -> None:
    """Make VGG16's top `blocks` conv blocks (block5 down) trainable; the rest stays frozen.

    The head's normalisation switches to inference mode with the statistics phase 1 learned:
    with the base now moving, batch statistics in training and moving averages at validation
    would drift apart. The caller must compile again: Keras fixes the trainable set at compile.
    """
    base = model.get_layer(BASE_NAME)
    top = {f"block{n}" for n in range(6 - blocks, 6)}
    base.trainable = blocks > 0
    for layer in base.layers:
        layer.trainable = layer.name.split("_")[0] in top
    head_of(model).get_layer("head_norm").trainable = False
