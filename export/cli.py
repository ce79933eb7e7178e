"""The ``python -m export`` command line: a zoo run directory -> TF Serving and TFLite artifacts.

    python -m export RUN_DIR [--out DIR] [--name NAME] [--version N]
                     [--tflite none,float16,dynamic,int8] [--signatures decode,sample]
                     [--representative FILE.npy|.npz]

Writes, under ``--out`` (default ``exports``)::

    models.config                    TF Serving model_config_list of every model under --out
    docker-compose.yml               tensorflow/serving with --out mounted at /models
    NAME/VERSION/                    the SavedModel (what TF Serving loads), and with it:
    NAME/VERSION/tflite/NAME.Q.tflite  one per quantization Q, each with a NAME.Q.json sidecar
    NAME/VERSION/requests/SIGNATURE.json  REST :predict bodies, checked against the SavedModel
    tflite/NAME/VERSION -> ../../NAME/VERSION/tflite   the TFLite files, where phones look

and prints a table: artifact, size, parity error against Keras, latency. Every check (run
directory, model, quantization names, version, calibration data) happens before anything is
written; a bad input ends with one line on stderr and exit status 2. A version is assembled in a
hidden folder and published by one rename (:mod:`keras_ae.serving.publish`): an export killed or
out of disk space (one line, exit status 2) publishes nothing, and the next export into ``--out``
removes what it left.
"""

import argparse
import json
import os
import sys


class CliError(Exception):
    """An error the user can fix: printed as one line, exit status 2."""


#: Exit status of an export that wrote the SavedModel but skipped some TFLite quantizations.
EXIT_PARTIAL = 3


#: Where TF Serving sees ``--out`` inside the container (see docker-compose.yml, SERVING.md).
SERVING_MOUNT = "/models"
#: Examples of the training split used for int8 calibration (and parity probes).
DEFAULT_CALIBRATION = 500


def _parser(prog="python -m export"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Export a zoo run directory as a SavedModel for TF Serving and as TFLite files.",
    )
    parser.add_argument("run_dir", help="a run directory written by `python -m zoo train` (holds model.keras)")
    parser.add_argument("--out", default="exports", help="output folder, the TF Serving model root (default exports)")
    parser.add_argument("--name", help="model name (default: the recipe name from config.json)")
    parser.add_argument("--version", type=int, help="version number (default: the next free one)")
    parser.add_argument("--tflite", default="none,float16,dynamic,int8",
                        help="comma-separated TFLite quantizations: none, float16, dynamic, int8; "
                             "'' for no TFLite (default: all four)")
    parser.add_argument("--signatures",
                        help="comma-separated signatures to put in each TFLite file, e.g. decode,sample "
                             "(default: every signature; the SavedModel always has every signature)")
    parser.add_argument("--representative",
                        help="int8 calibration data: .npy, or .npz with x_train (default: the run's "
                             "training set through keras_ae.data)")
    parser.add_argument("--calibration-examples", type=int, default=DEFAULT_CALIBRATION,
                        help=f"training examples for int8 calibration (default {DEFAULT_CALIBRATION})")
    return parser


def main(argv=None, prog="python -m export"):
    """Run the export; the exit status. TensorFlow's native start-up noise is kept off stderr."""
    from zoo.native_logs import filtered_stderr

    with filtered_stderr():
        return _main(argv, prog)


def _main(argv, prog):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser(prog).parse_args(argv)
    try:
        return run(args)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


# -- checks (nothing is written before all of them pass) -------------------------------------
def parse_quantizations(text):
    from keras_ae.serving import QUANTIZATIONS

    names = [q.strip() for q in text.split(",") if q.strip()]
    unknown = [q for q in names if q not in QUANTIZATIONS]
    if unknown:
        raise CliError(f"unknown quantization {unknown[0]!r} in --tflite; choose from {', '.join(QUANTIZATIONS)}")
    if len(set(names)) != len(names):
        raise CliError(f"--tflite names a quantization twice: {text}")
    return names


def read_run(run_dir):
    """``(config or {}, model path)`` of a run directory, or ``CliError``."""
    if not os.path.isdir(run_dir):
        raise CliError(f"run directory {run_dir} does not exist")
    model_path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(model_path):
        raise CliError(f"{run_dir} holds no model: model.keras is missing (train one with `python -m zoo train`)")
    config = {}
    config_path = os.path.join(run_dir, "config.json")
    if os.path.isfile(config_path):
        from keras_ae.training import run_directory

        try:
            config = run_directory.read_json(config_path, expect=dict, advice=run_directory.CONFIG_ADVICE)
        except run_directory.RunDirectoryError as e:
            raise CliError(str(e)) from None
    return config, model_path


def default_name(config, run_dir):
    recipe = config.get("recipe")
    name = recipe.get("name") if isinstance(recipe, dict) else None
    return name or os.path.basename(os.path.normpath(run_dir))


def load_model(model_path, config=None):
    from keras_ae import training
    from keras_ae.training import run_directory

    try:
        return training.load_model_file(model_path)
    except training.DamagedFileError as e:
        raise CliError(f"{e}; {run_directory.damaged_model_advice(os.path.dirname(model_path), config)}") from None
    except ValueError as e:
        raise CliError(str(e)) from None


def _load_file_data(path):
    import numpy as np

    if not os.path.isfile(path):
        raise CliError(f"representative data file {path} does not exist")
    try:
        data = np.load(path)
    except (OSError, ValueError) as e:
        raise CliError(f"cannot read representative data {path}: {e}") from None
    if hasattr(data, "files"):
        if "x_train" not in data.files:
            raise CliError(f"{path} has no x_train array (it has {', '.join(data.files) or 'nothing'})")
        data = data["x_train"]
    return data


def _load_dataset(config, max_examples, split="train", labels=False):
    dataset = config.get("dataset")
    if not dataset:
        raise CliError("config.json names no dataset; pass --representative FILE.npy for int8 calibration")
    try:
        from keras_ae import data
    except ImportError as e:
        raise CliError(f"keras_ae.data is unavailable ({e}); pass --representative FILE.npy") from None
    recipe = config.get("recipe")
    binarize = recipe.get("binarize") if isinstance(recipe, dict) else None
    # Calibrate on what the model was trained on; one fixed binarization stands in for dynamic.
    binarize = "static" if binarize in ("static", "dynamic") else binarize
    try:
        x, y = data.load_arrays(dataset, split, max_examples=max_examples, binarize=binarize,
                                seed=config.get("seed", 0))
    except Exception as e:  # noqa: BLE001 - TFDS/download errors come in many types
        use = "for calibration" if split == "train" else "for the quality column"
        raise CliError(f"cannot load the {split} data of {dataset!r} {use}: "
                       f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return (x, y) if labels else x


def quality_split(config, model):
    """``(x_test, condition, None)`` for the quality column, or ``(None, None, why not)``.

    The run's test split, binarized as the run evaluates it (one fixed binarization, the run's
    seed); a conditional model's label condition is the split's labels.
    """
    import numpy as np

    from keras_ae import serving

    try:
        x, y = _load_dataset(config, None, split="test", labels=True)
        x = serving.check_representative_data(model, x)
    except (CliError, serving.ExportError) as e:
        return None, None, str(e)
    specs = model.capabilities()["condition_spec"]
    condition = None
    if specs:
        label_specs = [k for k, spec in specs.items() if spec.dtype.is_integer]
        if len(label_specs) != 1 or len(specs) != 1:
            return None, None, f"the score's condition {sorted(specs)} is not the split's labels"
        name = label_specs[0]
        condition = {name: np.asarray(y).astype(specs[name].dtype.as_numpy_dtype).reshape(
            (len(y),) + tuple(specs[name].shape))}
    return x, condition, None


def representative_data(args, config, model, needed):
    """Calibration data checked against the model, or ``None`` when not needed and unavailable."""
    from keras_ae import serving

    if args.calibration_examples < 1:
        raise CliError(f"--calibration-examples must be >= 1, got {args.calibration_examples}")
    if args.representative:
        data = _load_file_data(args.representative)
    elif needed:
        data = _load_dataset(config, args.calibration_examples)
    else:
        try:
            data = _load_dataset(config, min(args.calibration_examples, 64))
        except CliError:
            return None  # parity then probes with uniform noise
    try:
        return serving.check_representative_data(model, data)[: args.calibration_examples]
    except serving.ExportError as e:
        raise CliError(str(e)) from None


# -- writing ---------------------------------------------------------------------------------
def served_models(out):
    """``{name: path}`` of every model folder under ``out`` with at least one SavedModel version."""
    found = {}
    for name in sorted(os.listdir(out)) if os.path.isdir(out) else []:
        folder = os.path.join(out, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue
        if any(d.isdigit() and os.path.isfile(os.path.join(folder, d, "saved_model.pb")) for d in os.listdir(folder)):
            found[name] = folder
    return found


COMPOSE = """\
# docker compose up  (from this folder): TF Serving with every model of models.config.
services:
  serving:
    image: tensorflow/serving:latest
    ports:
      - "8500:8500"   # gRPC
      - "8501:8501"   # REST
    volumes:
      - .:/models:ro
    command:
      - --model_config_file=/models/models.config
      - --model_config_file_poll_wait_seconds=60
"""


def write_serving_config(out, also=()):
    """``models.config`` and ``docker-compose.yml`` for every served model under ``out`` and ``also``."""
    from keras_ae import serving, training

    models = {name: f"{SERVING_MOUNT}/{name}" for name in sorted(set(served_models(out)) | set(also))}
    training.atomic_write_text(os.path.join(out, "models.config"), serving.models_config(models), mode=0o644)
    training.atomic_write_text(os.path.join(out, "docker-compose.yml"), COMPOSE, mode=0o644)
    return sorted(models)


def write_requests(folder, model, saved_path, probe):
    """One REST body per signature in ``folder``, each run through the SavedModel as TF Serving would."""
    import tensorflow as tf

    from keras_ae import serving, training

    signatures = tf.saved_model.load(saved_path).signatures
    written = []
    for sig, endpoint in serving.endpoints(model).items():
        body = serving.rest_request(sig, serving.probe_inputs(model, endpoint, probe[:2]))
        serving.predict_rest(signatures, body)  # raises if the body does not fit the signature
        path = os.path.join(folder, f"{sig}.json")
        training.atomic_write_text(path, json.dumps(body) + "\n")
        written.append(path)
    return written


def _latency_rows(model, saved_path, tflite_paths, probe):
    """``{artifact: (seconds at batch 1, seconds per example at batch 64)}`` of ``reconstruct``."""
    import numpy as np
    import tensorflow as tf

    from keras_ae import serving

    x1 = probe[:1]
    x64 = np.resize(probe, (64,) + probe.shape[1:]).astype(np.float32)
    rows = {"keras": (serving.measure_latency(lambda: model.predict_on_batch(x1)),
                      serving.measure_latency(lambda: model.predict_on_batch(x64), repeats=5) / 64)}
    fn = tf.saved_model.load(saved_path).signatures["reconstruct"]
    t1, t64 = tf.constant(x1), tf.constant(x64)
    rows["savedmodel"] = (serving.measure_latency(lambda: fn(x=t1)),
                          serving.measure_latency(lambda: fn(x=t64), repeats=5) / 64)
    for q, path in tflite_paths.items():
        interpreter = serving.litert_interpreter(model_path=path)
        if "reconstruct" not in interpreter.get_signature_list():  # a file of other signatures (--signatures)
            rows[q] = None
            continue
        runner = interpreter.get_signature_runner("reconstruct")
        rows[q] = (serving.measure_latency(lambda: runner(x=x1)),
                   serving.measure_latency(lambda: runner(x=x64), repeats=5) / 64)
    return rows


def quality_cell(quality, keras=False):
    """The table's test-score cell of a quality entry (:func:`keras_ae.serving.measure_quality`): its mean."""
    if not quality or "skipped" in quality:
        return "-"
    mean = quality["keras_mean"] if keras else quality["mean"]
    return "non-finite" if mean is None else f"{mean:.4g}"


def print_table(rows):
    header = ("artifact", "size", "max |err| vs keras", "score |err|", "test quality", "latency b=1",
              "per example b=64")
    table = [header] + [tuple(r) for r in rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def export_tflite_files(model, version, quantizations, data, probe, skipped, signatures=None, quality=(None, None)):
    """Write one ``.tflite`` (and sidecar) per quantization into the staged version's ``tflite/``.

    Each is converted from the staged SavedModel (written first), not from a new one per quantization.

    A quantization that cannot be made is left out and its reason goes to ``skipped``. Returns
    ``{quantization: sidecar dict}`` of those written. A full disk is not a quantization that
    cannot be made: it propagates and the whole version is discarded. ``quality`` is the
    held-out ``(x, condition)`` each file's sidecar ``quality`` is measured on (``x`` None: none).
    """
    from keras_ae import serving

    infos = {}
    for q in quantizations:
        if q in skipped:
            continue
        path = version.tflite_file(q)
        try:
            infos[q] = serving.export_tflite(model, path, q, representative_data=data, probe_data=probe,
                                             signatures=signatures, quality_data=quality[0],
                                             quality_condition=quality[1], saved_model=version.stage)
        except serving.ExportError as e:
            skipped[q] = str(e).splitlines()[0]
            for leftover in (path, serving.sidecar_path(path)):
                if os.path.exists(leftover):
                    os.remove(leftover)
    return infos


def run(args):
    # The run directory first: its errors need no TensorFlow import.
    config, model_path = read_run(args.run_dir)
    quantizations = parse_quantizations(args.tflite)
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise CliError(f"--out {out} is a file, not a folder")
    from keras_ae import training

    existed = os.path.isdir(out)
    lock = training.FolderLock(out, "export folder")  # creates --out if needed
    try:
        lock.acquire()
    except ValueError as e:  # another export writes there now, or --out cannot be created
        raise CliError(str(e)) from None
    if not existed:
        os.chmod(out, 0o755)  # whatever the umask: TF Serving running as another user must read it
    try:
        return _export(args, config, model_path, quantizations, out)
    finally:
        lock.release()
        if not existed and os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)


def disk_full_message(error, out, name, version, staged=None):
    """The one line of an export that ran out of disk space (nothing of the version is published)."""
    where = getattr(error, "filename", None)
    if where and staged is not None and os.path.abspath(where).startswith(staged.stage + os.sep):
        where = staged.published_path(os.path.abspath(where))  # the file's name once published
    return (f"no space left on device while exporting {name} version {version} to {out}"
            + (f" (writing {where})" if where else "") + "; nothing was published: free some space and export again")


def _export(args, config, model_path, quantizations, out):
    from keras_ae import serving, training
    from keras_ae.serving import publish

    # Under the lock: what exports killed before their rename left here goes first.
    publish.remove_leftovers(out)
    try:
        name = serving.check_model_name(args.name or default_name(config, args.run_dir))
        version = serving.next_version(out, name) if args.version is None else \
            serving.check_version(out, name, args.version)
    except serving.ExportError as e:
        raise CliError(str(e)) from None
    link = publish.tflite_link(out, name, version)
    if os.path.lexists(link):
        raise CliError(f"{link} already exists; an exported version is never overwritten")
    model = load_model(model_path, config)
    signatures = None
    if args.signatures is not None:
        try:
            signatures = serving.check_signatures(model, args.signatures)
        except serving.ExportError as e:
            raise CliError(f"--signatures: {e}") from None
    if args.calibration_examples < 1:
        raise CliError(f"--calibration-examples must be >= 1, got {args.calibration_examples}")
    skipped = {}
    needed = "int8" in quantizations
    if needed and not args.representative:
        try:
            data = representative_data(args, config, model, needed=True)
        except CliError as e:  # the training set cannot be read: int8 cannot be calibrated
            skipped["int8"] = f"no calibration data ({e}); pass --representative FILE.npy"
            data = representative_data(args, config, model, needed=False)
    else:
        data = representative_data(args, config, model, needed=needed)

    probe = serving.probe_batch(model, data)
    x_test, test_condition, no_quality = quality_split(config, model)
    try:
        serving.check_exportable(model)
    except serving.ExportError as e:
        raise CliError(f"{e}; nothing was written") from None
    # The whole version (SavedModel, TFLite files and sidecars, REST bodies) is assembled in one
    # hidden folder and published by one rename (keras_ae.serving.publish): a kill or a full
    # disk before the rename publishes nothing.
    staged = None
    try:
        with publish.staged_version(out, name, version) as staged:
            serving.write_saved_model(model, staged.stage)
            infos = export_tflite_files(model, staged, quantizations, data, probe, skipped,
                                        signatures, (x_test, test_condition)) if quantizations else {}
            staged_tflite = staged.tflite_files()
            saved_parity = serving.saved_model_parity(model, staged.stage, probe)
            saved_quality = None if x_test is None else serving.measure_quality(
                model, serving.saved_model_runner(staged.stage), x_test, test_condition)
            requests = write_requests(staged.requests_dir, model, staged.stage, probe)
            # models.config names the model before its version appears (TF Serving waits for a
            # version), so a full disk here leaves the published state as it was.
            served = write_serving_config(out, also=[name])
            staged.publish()
    except FileExistsError as e:
        raise CliError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - TensorFlow reports a full disk as an OpError
        if training.is_disk_full(e):
            raise CliError(disk_full_message(e, out, name, version, staged)) from None
        raise
    saved_path = staged.path
    tflite_paths = {q: staged.published_path(staged_tflite[q]) for q in quantizations if q in staged_tflite}
    requests = [staged.published_path(path) for path in requests]
    # The SavedModel's own files (the version folder also holds tflite/ and requests/).
    saved_bytes = sum(serving.file_size(os.path.join(saved_path, f)) for f in os.listdir(saved_path)
                      if f not in ("tflite", "requests"))
    latency = _latency_rows(model, saved_path, tflite_paths, probe)

    def fmt(seconds):
        return f"{seconds * 1e3:.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"

    def error(value):
        return "-" if value is None else f"{value:.2g}"

    def score_error(parity):
        errors = parity["max_abs_error"].get("score")
        return f"{max(errors.values()):.2g}" if errors else "-"

    rows = [("keras", "-", "0", "0", quality_cell(saved_quality, keras=True), *map(fmt, latency["keras"]))]
    rows.append((os.path.relpath(saved_path, out), serving.human_size(saved_bytes),
                 f"{serving.max_parity_error(saved_parity, saved_parity['max_abs_error']):.2g}",
                 score_error(saved_parity), quality_cell(saved_quality), *map(fmt, latency["savedmodel"])))
    for q, path in tflite_paths.items():
        rows.append((os.path.relpath(path, out), serving.human_size(infos[q]["size_bytes"]),
                     error(serving.max_parity_error(infos[q]["parity"])), score_error(infos[q]["parity"]),
                     quality_cell(infos[q].get("quality")), *(map(fmt, latency[q]) if latency[q] else ("-", "-"))))
    print(f"exported {name} version {version} ({type(model).__name__}) to {out}; parity on "
          f"{'training examples' if data is not None else 'uniform noise'}, error = max over decode/reconstruct "
          "(SavedModel: every signature); the anomaly score's error on its own (nats: int8 files are for "
          "reconstructions, not scores)" + (f"; TFLite files hold {', '.join(signatures)}" if signatures else ""))
    print("test quality on the run's test split: "
          + (f"{saved_quality['examples']} examples, {saved_quality['estimator']}; the same estimator for every file"
             if saved_quality else f"not measured: {no_quality}"))
    print_table(rows)
    print(f"TF Serving config: {os.path.relpath(os.path.join(out, 'models.config'))} ({', '.join(served)}); "
          f"REST bodies: {os.path.relpath(os.path.dirname(requests[0]))}/")
    for q in quantizations:
        if q in skipped:  # one line each; the exit status says the export is partial
            print(f"partial export: TFLite {q} skipped: {skipped[q]}", file=sys.stderr)
    return EXIT_PARTIAL if skipped else 0
