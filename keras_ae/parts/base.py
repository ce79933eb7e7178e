"""What every part of a latent-variable model shares: attachment to its model, serialization, lookup by name.

A part is a Keras 3 layer that a model composes (:class:`keras_ae.models.VAE`): a posterior
(encoder features -> ``q(z|x)``), a prior (-> ``p(z)`` and its own sampler), a likelihood
(decoder features -> ``p(x|z)``) or a regularizer (loss terms on the importance-weight record).
The user gives a part as a specification (an instance, a registered name such as
``"standard_normal"``, ``{"name": "iaf", "steps": 2}`` or a Keras-serialized dict); the model
makes its own copy from the part's config and calls :meth:`Part.attach`, where the part creates
its weights for that model's sizes. A part's config holds only the user's arguments, so
``get_config``/``from_config`` round-trips and a ``.keras`` file reloads it.
"""

import keras

#: ``{kind: {name: class}}``: the names a part may be given by (``prior="standard_normal"``).
REGISTRY = {"posterior": {}, "prior": {}, "likelihood": {}, "regularizer": {}}


def register(kind, *names):
    """Class decorator: a Keras-serializable part of ``kind``, reachable by ``names``."""

    def decorate(cls):
        cls.kind = kind
        cls.names = tuple(names)
        for name in names:
            REGISTRY[kind][name] = cls
        return keras.saving.register_keras_serializable(package="keras_ae")(cls)

    return decorate


class Part(keras.layers.Layer):
    """A part of a latent-variable model (see the module docstring).

    Subclasses take their arguments in ``__init__`` (checked there, ``ValueError`` naming the
    argument) and return them from :meth:`arguments`; :meth:`attach` creates the weights for a
    model and :meth:`check_model` refuses a model whose other parts the part cannot work with.
    """

    kind = None
    names = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._attached = False

    def arguments(self):
        """``{argument: value}``: what the part was constructed with (its config, JSON-ready)."""
        return {}

    def get_config(self):
        return {**super().get_config(), **self.arguments()}

    def build(self, input_shape=None):
        # Sub-layers build on their first call (the model's forward pass); nothing to make here.
        pass

    def get_build_config(self):
        # Built by its model's forward pass after attach(); a bare part cannot build itself.
        return None

    def attach(self, model):
        """Create the weights for ``model`` (its sizes, initializer, seed); called once by the model."""
        self._attached = True

    def check_model(self, model):
        """``ValueError`` with the reason when this part cannot work with the model's other parts."""

    def schedulable_variables(self):
        """``{name: variable}`` a schedule may set (``model.set_schedule(name, ...)``): the model exposes them."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments().items())
        return f"{type(self).__name__}({args})"


def resolve(kind, value, argument):
    """A fresh, unattached part of ``kind`` from a specification (see the module docstring), named ``kind``.

    ``argument`` names the constructor argument in the ``ValueError`` for a value that is none of
    the accepted forms or names no part of this kind.
    """
    table = REGISTRY[kind]
    known = ", ".join(repr(n) for n in sorted(table))
    if isinstance(value, Part):
        if value.kind != kind:
            raise ValueError(f"{argument} must be a {kind} part, got {value!r}, a {value.kind}")
        return type(value).from_config({**value.get_config(), "name": kind})
    if isinstance(value, str):
        if value not in table:
            raise ValueError(f"{argument} must be one of {known} or a {kind} part, got {value!r}")
        return table[value](name=kind)
    if isinstance(value, dict) and "class_name" in value:
        part = keras.saving.deserialize_keras_object(value)
        if not isinstance(part, Part) or part.kind != kind:
            raise ValueError(f"{argument} must be a {kind} part, got the config of {value['class_name']!r}")
        return part
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        arguments = {k: v for k, v in value.items() if k != "name"}
        if value["name"] not in table:
            raise ValueError(f"{argument} must be one of {known} or a {kind} part, got {value['name']!r}")
        try:
            return table[value["name"]](name=kind, **arguments)
        except (TypeError, ValueError) as e:  # an unknown or a bad argument (Keras refuses unknown ones)
            raise ValueError(f"{argument}={value!r}: {e}") from None
    raise ValueError(f"{argument} must be one of {known}, a {kind} part, or {{'name': ..., arguments}}, "
                     f"got {value!r}")


def serialize(part):
    """The part's Keras-serialized config (what a model's ``get_config`` holds)."""
    return keras.saving.serialize_keras_object(part)
