"""Test classification error with few labels: M2 and ADGM against a supervised classifier of the same size.

For each seed: ``keras_ae.data.semisupervised.labelled_split`` keeps ``--labels-per-class``
labels per class (chosen by the seed); M2 and ADGM train on mixed batches (``mixed_pipeline``:
``--labelled-per-batch`` labelled rows, the rest unlabelled) for ``--epochs`` passes over the
unlabelled data; M1+M2 is M2 (Gaussian likelihood) on the posterior means of a VAE (M1)
trained on every training image for ``--m1-epochs``; the supervised baseline is the same classifier network as M2's ``q(y|x)``
(``EncoderBody(hidden_units)`` + a dense softmax layer) trained with cross-entropy on the
labelled examples only, for as many steps. Every model uses Adam at ``--learning-rate``. The
test error of ``model.classify`` is printed per seed, then mean ± sd over seeds. For the first
seed each semi-supervised model is exported (SavedModel and TFLite) and the exported ``classify``
is compared with the model's on every test example.

    python benchmarks/semisupervised.py --dataset digits --seeds 0 1 2
    python benchmarks/semisupervised.py --dataset npz:runs/mnist5k.npz --seeds 0 1 2   # benchmarks/mnist5k_npz.py
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def supervised_error(x_l, y_l, x_test, y_test, hidden_units, steps, learning_rate, seed, num_classes):
    import keras

    from keras_ae.layers.bodies import EncoderBody

    keras.utils.set_random_seed(seed)
    net = keras.Sequential([keras.Input(x_l.shape[1:]),
                            EncoderBody(x_l.shape[1:], "mlp", hidden_units, name="classifier_body"),
                            keras.layers.Dense(num_classes)])
    net.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    batch = min(len(x_l), 64)
    epochs = max(1, steps * batch // len(x_l))
    net.fit(x_l, y_l, batch_size=batch, epochs=epochs, verbose=0, shuffle=True)
    return float(np.mean(np.argmax(net.predict(x_test, verbose=0), axis=1) != y_test))


def m1_codes(x_train, x_test, args, seed):
    """M1: a VAE trained on every training image (no labels); its posterior means are M2's data."""
    import keras

    from keras_ae.models import VAE

    keras.utils.set_random_seed(seed)
    vae = VAE(input_shape=x_train.shape[1:], latent_dim=args.m1_latent_dim, hidden_units=tuple(args.hidden_units),
              seed=seed)
    vae.compile(optimizer=keras.optimizers.Adam(args.learning_rate), jit_compile=True, steps_per_execution=10)
    vae.fit(x_train, batch_size=args.batch_size, epochs=args.m1_epochs, verbose=0, shuffle=True)
    return [np.concatenate([vae.encode(x[i:i + 500]).numpy() for i in range(0, len(x), 500)]) for x in (x_train, x_test)]


def semisupervised_error(cls, split, x_test, y_test, args, seed, check_export):
    import keras

    from keras_ae import models, serving
    from keras_ae.data import semisupervised

    keras.utils.set_random_seed(seed)
    extra = {"auxiliary_dim": args.auxiliary_dim} if cls == "ADGM" else {}
    if cls == "M1+M2":  # M2 with a Gaussian likelihood on the M1 codes
        cls, extra = "M2", {"likelihood": "gaussian"}
    model = getattr(models, cls)(input_shape=x_test.shape[1:], latent_dim=args.latent_dim,
                                 num_classes=split.num_classes, hidden_units=tuple(args.hidden_units),
                                 alpha=args.alpha, seed=seed, **extra)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), jit_compile=True, steps_per_execution=10)
    ds = semisupervised.mixed_pipeline(split, args.batch_size, args.labelled_per_batch, seed=seed)
    history = model.fit(ds, epochs=args.epochs, verbose=0)
    labels = np.concatenate([model.classify(x_test[i:i + 500])["label"].numpy() for i in range(0, len(x_test), 500)])
    result = {"error": float(np.mean(labels != y_test)), "steps": int(model.optimizer.iterations),
              "final_elbo": float(history.history["elbo"][-1])}
    if check_export:
        tmp = tempfile.mkdtemp(prefix="ss_export_")
        path = serving.export_saved_model(model, tmp, cls.lower())
        import tensorflow as tf

        exported = tf.saved_model.load(path).signatures["classify"](x=tf.constant(x_test))["label"].numpy()
        info = serving.export_tflite(model, os.path.join(tmp, "m.tflite"), "none", probe_data=x_test[:32])
        run = serving.tflite_runner(serving.litert_interpreter(info["path"] if "path" in info
                                                               else os.path.join(tmp, "m.tflite")))
        lite = np.concatenate([np.asarray(run("classify", {"x": x_test[i:i + 1]})["label"]) for i in range(len(x_test))])
        result["export_disagreements"] = {"saved_model": int(np.sum(exported != labels)),
                                          "tflite": int(np.sum(lite != labels)), "examples": len(labels)}
    return result, model.optimizer.iterations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=["supervised", "M2", "ADGM"])
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--labelled-per-batch", type=int, default=16)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--auxiliary-dim", type=int, default=16)
    parser.add_argument("--hidden-units", type=int, nargs="+", default=[256])
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--m1-latent-dim", type=int, default=16, help="M1+M2: the VAE's code size")
    parser.add_argument("--m1-epochs", type=int, default=100, help="M1+M2: the VAE's epochs on all training images")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    from keras_ae import data
    from keras_ae.data import semisupervised

    x_train, y_train = data.load_arrays(args.dataset, "train")
    x_test, y_test = data.load_arrays(args.dataset, "test")
    results = {m: [] for m in args.models}
    for i, seed in enumerate(args.seeds):
        split = semisupervised.labelled_split(x_train, y_train, labels_per_class=args.labels_per_class, seed=seed)
        steps = None
        for name in args.models:
            if name == "supervised":
                continue
            start = time.perf_counter()
            if name == "M1+M2":
                codes_train, codes_test = m1_codes(x_train, x_test, args, seed)
                code_split = semisupervised.LabelledSplit(
                    codes_train[split.labelled_indices], split.y_labelled,
                    np.delete(codes_train, split.labelled_indices, axis=0), split.labelled_indices, split.num_classes)
                result, _ = semisupervised_error(name, code_split, codes_test, y_test, args, seed, check_export=False)
            else:
                result, steps = semisupervised_error(name, split, x_test, y_test, args, seed, check_export=(i == 0))
            result["seconds"] = round(time.perf_counter() - start, 1)
            results[name].append(result)
            print(f"seed {seed} {name}: {json.dumps(result)}", flush=True)
        if "supervised" in args.models:
            n_u = args.batch_size - args.labelled_per_batch
            steps = int(steps) if steps is not None else args.epochs * (len(split.x_unlabelled) // n_u)
            start = time.perf_counter()
            error = supervised_error(split.x_labelled, split.y_labelled, x_test, y_test, tuple(args.hidden_units),
                                     steps, args.learning_rate, seed, split.num_classes)
            results["supervised"].append({"error": error, "seconds": round(time.perf_counter() - start, 1)})
            print(f"seed {seed} supervised: {json.dumps(results['supervised'][-1])}", flush=True)
    summary = {}
    for name, runs in results.items():
        errors = np.array([r["error"] for r in runs]) * 100
        summary[name] = {"mean": round(float(errors.mean()), 2),
                         "sd": round(float(errors.std(ddof=1)) if len(errors) > 1 else 0.0, 2),
                         "errors": [round(float(e), 2) for e in errors]}
        print(f"{name}: test error {summary[name]['mean']:.2f} ± {summary[name]['sd']:.2f} % over seeds {args.seeds}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "results": results, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
