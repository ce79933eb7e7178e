"""Export for serving: SavedModel signatures for TF Serving, builtin-only TFLite, parity checks.

A SavedModel written here loads in a process that never imports ``keras_ae`` (as TF Serving
does); its signatures (``encode``, ``decode``, ``reconstruct`` = ``serving_default``, ``score``,
and ``sample`` for generative models) are listed in :mod:`keras_ae.serving.signatures`.

=============== ==========================================================================
module          what it holds
=============== ==========================================================================
``signatures``  what a model exports: signature names, inputs, outputs, the functions
``saved_model`` versions and the SavedModel writer (``BASE/NAME/VERSION/``), its parity
``tflite``      quantizations, the TFLite converter, LiteRT runners, the TFLite export
``sidecar``     the JSON metadata next to a ``.tflite`` file
``parity``      comparison with Keras, sample checks, latency and size measurements
``quality``     what a file costs in model quality: its test NLL (or mean score) on held-out data
``rest``        TF Serving REST bodies and answers offline, the ``models.config`` text
``errors``      :class:`ExportError`
``publish``     a whole version (SavedModel, TFLite files, sidecars, REST bodies) staged in
                one hidden folder and published by one rename; leftovers of killed exports
=============== ==========================================================================

Every public name is re-exported here.

Example::

    from keras_ae import serving
    path = serving.export_saved_model(model, "/models", "ae")          # /models/ae/1
    info = serving.export_tflite(model, "ae.tflite", quantization="float16")
    print(info["parity"])
"""

from keras_ae.serving.errors import ExportError
from keras_ae.serving.parity import (check_samples, compare_outputs, file_size, human_size, max_parity_error,
                                     measure_latency, probe_batch, runner_parity)
from keras_ae.serving.quality import QUALITY_ESTIMATOR, measure_quality, quality_inputs
from keras_ae.serving.publish import StagedVersion, remove_leftovers, staged_version, tflite_link
from keras_ae.serving.rest import models_config, predict_rest, rest_request
from keras_ae.serving.saved_model import (check_model_name, check_version, export_saved_model, next_version,
                                          saved_model_parity, saved_model_runner, write_saved_model)
from keras_ae.serving.sidecar import data_range, sidecar_path, tflite_sidecar
from keras_ae.serving.signatures import (build_export_archive, calibration_inputs, check_exportable, endpoints,
                                         export_functions, input_names, probe_inputs, signature_names)
from keras_ae.serving.tflite import (QUANTIZATIONS, Conversion, check_quantization, check_representative_data,
                                     check_signatures, convert_tflite, export_tflite, litert_interpreter, tflite_parity, tflite_runner)

__all__ = [
    "ExportError",
    "endpoints", "signature_names", "input_names", "probe_inputs", "check_exportable", "export_functions",
    "build_export_archive", "calibration_inputs", "Conversion",
    "next_version", "check_version", "check_model_name", "write_saved_model", "export_saved_model",
    "saved_model_runner", "saved_model_parity",
    "QUANTIZATIONS", "check_quantization", "check_representative_data", "check_signatures", "convert_tflite", "export_tflite",
    "litert_interpreter", "tflite_runner", "tflite_parity",
    "sidecar_path", "tflite_sidecar", "data_range",
    "compare_outputs", "check_samples", "runner_parity", "probe_batch", "max_parity_error", "measure_latency",
    "file_size", "human_size",
    "QUALITY_ESTIMATOR", "measure_quality", "quality_inputs",
    "rest_request", "predict_rest", "models_config",
    "StagedVersion", "staged_version", "remove_leftovers", "tflite_link",
]
