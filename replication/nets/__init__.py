"""The base nets (paper §2.1, §2.2): Inception-v4 and InceptionResNet-v2 as plain Keras 3
functions, their registry (``registry``: the only list of nets), what both share (``inception``)
and their ImageNet weight converters (``timm_weights``, ``keras_applications_weights``)."""
