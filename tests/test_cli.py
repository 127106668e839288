"""The ``sknn`` command line: the real console script in a subprocess for the
main flows, ``main()`` in-process for the pinned one-line error messages."""

import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file
from sklearn.exceptions import ConvergenceWarning

import sknn
from sknn import MLPClassifier
from sknn._cli._common import detect_task, estimator_class, parse_params
from sknn._cli._main import build_parser, main

SCRIPT = Path(sys.executable).with_name("sknn")
FAST = ["--param", "max_iter=2", "--param", "n_threads=1", "--param", "ensemble_size=1"]


def run_sknn(*args, cwd, module=False):
    """Run the installed ``sknn`` console script (or ``python -m sknn``)."""
    if not module and not SCRIPT.exists():
        pytest.fail(f"no console script at {SCRIPT}; reinstall: pip install -e .")
    command = [sys.executable, "-m", "sknn"] if module else [str(SCRIPT)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([*command, *map(str, args)], cwd=cwd, env=env,
                           capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """60 rows: two numbers, a text column, a text label and a numeric target."""
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60),
                          "color": rng.choice(["red", "blue"], 60)})
    frame["label"] = np.where(frame.a + frame.b > 0, "yes", "no")
    frame["amount"] = 2 * frame.a + frame.b
    frame.to_csv(folder / "table.csv", index=False)
    return folder / "table.csv"


@pytest.fixture(scope="module")
def model_file(table):
    path = table.with_name("model.sknn")
    frame = pd.read_csv(table)
    model = MLPClassifier(max_iter=1, ensemble_size=1, n_threads=1)
    sknn.save(model.fit(frame[["a", "b", "color"]], frame["label"]), path)
    return path


class CreatesFileWhenUnpickled:
    """Unpickling it opens ``path`` for writing: proof that a pickle was loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def error_line(capsys, argv):
    """Run ``main(argv)`` in-process; the status must be 1 and stderr one line."""
    status = main([str(arg) for arg in argv])
    err = capsys.readouterr().err.strip()
    assert status == 1
    assert len(err.splitlines()) == 1, err
    assert err.startswith("sknn: error: ")
    return err


# -- through the console script -----------------------------------------------------
def test_fit_predict_evaluate_through_the_console_script(table, tmp_path):
    fitted = run_sknn("fit", table, "--target", "label", "--cv", 2, *FAST,
                      "--output", "m.sknn", cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    assert "target 'label': classification, 2 classes" in fitted.stdout
    assert "cross-validated accuracy (2 folds)" in fitted.stdout
    assert "held-out accuracy" in fitted.stdout
    assert ("saved m.sknn, which loads without running code  (use it with: "
            "sknn predict m.sknn DATA)") in fitted.stdout
    assert isinstance(sknn.load(tmp_path / "m.sknn"), MLPClassifier)

    predicted = run_sknn("predict", "m.sknn", table, "--proba", "-o", "p.csv",
                         cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert list(predictions.columns) == ["prediction", "proba_no", "proba_yes"]
    assert len(predictions) == 60
    assert set(predictions.prediction) <= {"yes", "no"}

    evaluated = run_sknn("evaluate", "m.sknn", table, "--target", "label",
                         cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "accuracy" in evaluated.stdout and "log_loss" in evaluated.stdout


def test_fit_parquet_regression_and_predict_to_stdout(table, tmp_path):
    pd.read_csv(table).to_parquet(tmp_path / "table.parquet")
    fitted = run_sknn("fit", "table.parquet", "--target", "amount", "--cv", 0, *FAST,
                      cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    assert "target 'amount': regression" in fitted.stdout
    assert "held-out R2" in fitted.stdout and "cross-validated" not in fitted.stdout
    assert (tmp_path / "model.sknn").is_file()  # the default --output
    predicted = run_sknn("predict", "model.sknn", "table.parquet", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines()[0] == "prediction"
    assert len(predicted.stdout.splitlines()) == 61


def test_benchmark_prints_a_table_and_saves_curves(table, tmp_path):
    result = run_sknn("benchmark", table, "--target", "label", *FAST,
                      "--plot", "curves.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()
            if line.startswith(("sknn.", "sklearn."))}
    assert set(rows) == {"sknn.MLPClassifier", "sklearn.MLPClassifier",
                         "sklearn.HistGradientBoostingClassifier",
                         "sklearn.LogisticRegression"}
    assert all(len(values) == 4 for values in rows.values())  # 3 scores, fit s
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_error_is_one_line_without_traceback(tmp_path):
    result = run_sknn("fit", "missing.csv", "--target", "y", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "sknn: error: no such file: missing.csv\n"


def test_help_through_python_m(tmp_path):
    result = run_sknn("fit", "--help", cwd=tmp_path, module=True)
    assert result.returncode == 0
    for option in ("--target", "--model", "--task", "--param", "--cv", "--output"):
        assert option in result.stdout
    assert "(default: model.sknn)" in result.stdout


def test_model_help_says_files_load_without_running_code():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert ("Model files load without running code: sknn reads them as data and "
            "refuses pickles and joblib files.") in commands["predict"].description
    assert "that load without running code" in commands["fit"].description
    for name in ("predict", "evaluate"):
        model = next(a for a in commands[name]._actions if a.dest == "model")
        assert model.help == "a model file saved by `sknn fit` (or sknn.save)"


# -- in-process ---------------------------------------------------------------------
def test_every_option_of_every_command_has_help():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"fit", "predict", "evaluate", "benchmark"}
    for name, command in commands.items():
        for action in command._actions:
            assert action.help, f"sknn {name}: {action.option_strings or action.dest}"


@pytest.mark.parametrize("argv, message", [
    (["fit", "{table}", "--target", "nope"],
     "column 'nope' is not in {table}; columns: a, b, color, label, amount"),
    (["fit", "{table}"], "--target COL is required with DATA"),
    (["fit", "{table}", "--target", "label", "--param", "max_itr=3"],
     "MLPClassifier has no parameter 'max_itr'; valid parameters: activation"),
    (["fit", "{table}", "--target", "label", "--param", "max_iter=many"],
     "--param: The 'max_iter' parameter of MLPClassifier must be a str among {{'auto'}} "
     "or an int in the range [1, inf). Got 'many' instead."),
    (["fit", "{table}", "--target", "label", "--param", "max_iter"],
     "--param expects NAME=VALUE, got 'max_iter'"),
    (["fit", "{table}", "--target", "label", "--cv", "1"],
     "--cv must be 0 (no cross-validation) or at least 2, got 1"),
    (["fit", "{table}", "--target", "label", "--task", "regression"],
     "--task regression needs a numeric target; 'label' holds"),
    (["fit", "{folder}/notes.txt", "--target", "y"],
     "cannot read {folder}/notes.txt: expected a .csv or .parquet file"),
    (["predict", "{table}", "{table}"],
     "sknn: error: {table} is not an sknn model file (Error while deserializing header"),
    (["evaluate", "{folder}/dict.joblib"],
     "sknn: error: {folder}/dict.joblib is not an sknn model file ("),
    (["predict", "{folder}/plain.safetensors"],
     "sknn: error: {folder}/plain.safetensors is a safetensors file but not one written "
     "by sknn (its metadata lacks sknn's description of the model). Create model files "
     "with `sknn fit` (or sknn.save)."),
    (["predict", "{folder}/missing.sknn"], "sknn: error: no such file: {folder}/missing.sknn"),
    (["predict", "{model}", "{folder}/partial.csv"],
     "{folder}/partial.csv lacks column(s) the model was trained on: color"),
    (["predict", "{model}", "--proba", "--dataset", "diabetes"],
     "diabetes (built-in) lacks column(s) the model was trained on: a, b, color"),
])
def test_errors_are_one_pinned_line(capsys, table, model_file, argv, message):
    folder = table.parent
    (folder / "notes.txt").write_text("not a table")
    joblib.dump({"weights": 1}, folder / "dict.joblib")
    save_file({"weights": torch.zeros(2)}, folder / "plain.safetensors")
    pd.read_csv(table)[["a", "b"]].to_csv(folder / "partial.csv", index=False)
    names = {"table": table, "folder": folder, "model": model_file}
    err = error_line(capsys, [arg.format(**names) for arg in argv])
    assert message.format(**names) in err


def test_proba_of_a_regressor_is_an_error(capsys, tmp_path):
    from sknn import MLPRegressor

    model = MLPRegressor(max_iter=1, ensemble_size=1, n_threads=1)
    sknn.save(model.fit(np.zeros((4, 2)), np.arange(4.0)), tmp_path / "r.sknn")
    err = error_line(capsys, ["predict", tmp_path / "r.sknn", "--proba"])
    assert "--proba needs a classifier" in err


def test_a_joblib_model_is_refused_without_being_unpickled(capsys, tmp_path):
    marker = tmp_path / "unpickled"
    joblib.dump(CreatesFileWhenUnpickled(marker), tmp_path / "model.joblib")
    err = error_line(capsys, ["predict", tmp_path / "model.joblib"])
    # Between the two: safetensors' own words on the header it could not read.
    assert err.startswith(f"sknn: error: {tmp_path}/model.joblib is not an sknn model "
                          "file (Error while deserializing header: ")
    assert err.endswith(
        "). sknn reads only the safetensors files that sknn.save writes and never "
        "unpickles; a pickle or joblib file must be loaded with joblib, and only from a "
        "trusted source. Create model files with `sknn fit` (or sknn.save)."
    )
    assert not marker.exists()
    joblib.load(tmp_path / "model.joblib").close()  # the file would have run code
    assert marker.exists()


def test_sknn_transformers_are_not_models_of_the_command_line(capsys, tmp_path):
    from sknn.text import TextSequencer

    sknn.save(TextSequencer().fit(["a b", "b c"]), tmp_path / "sequencer.sknn")
    err = error_line(capsys, ["predict", tmp_path / "sequencer.sknn"])
    assert err == (f"sknn: error: {tmp_path}/sequencer.sknn holds an sknn TextSequencer, "
                   "not a classifier or regressor like those `sknn fit` saves")
    autoencoder = sknn.AutoencoderTransformer(max_iter=1, n_threads=1)
    with pytest.warns(ConvergenceWarning):
        autoencoder.fit(np.random.default_rng(0).normal(size=(10, 3)))
    sknn.save(autoencoder, tmp_path / "autoencoder.sknn")
    err = error_line(capsys, ["evaluate", tmp_path / "autoencoder.sknn"])
    assert "autoencoder.sknn holds an sknn AutoencoderTransformer, not a classifier" in err


def test_unreadable_model_file_is_one_line(capsys, tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied")

    (tmp_path / "m.sknn").write_bytes(b"")
    monkeypatch.setattr(sknn, "load", refuse)  # root reads any file: simulate it
    err = error_line(capsys, ["predict", tmp_path / "m.sknn"])
    assert err == f"sknn: error: cannot read {tmp_path}/m.sknn: [Errno 13] Permission denied"


def test_output_in_a_missing_folder_is_refused_before_training(capsys, table, tmp_path):
    status = main(["fit", str(table), "--target", "label",
                   "--output", str(tmp_path / "no" / "m.sknn")])
    printed = capsys.readouterr()
    assert status == 1
    assert printed.err == (f"sknn: error: cannot write {tmp_path}/no/m.sknn: no folder "
                           f"{tmp_path}/no\n")
    assert printed.out == ""  # not even the data was read


def test_unwritable_output_is_one_line(capsys, table, tmp_path):
    err = error_line(capsys, ["fit", table, "--target", "label", "--cv", "0", *FAST,
                              "--param", "verbose=0", "--output", tmp_path])
    assert err.startswith(f"sknn: error: cannot write {tmp_path}: [Errno 21] Is a "
                          "directory")
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_parquet_without_pyarrow_says_how_to_get_it(capsys, table, monkeypatch):
    path = table.with_name("table.parquet")
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    err = error_line(capsys, ["fit", path, "--target", "label"])
    assert "needs pyarrow: pip install pyarrow" in err


@pytest.mark.parametrize("model", ["mlp", "cnn", "rnn", "transformer"])
def test_every_model_choice_is_an_sknn_estimator(model):
    for task, kind in (("classification", "Classifier"), ("regression", "Regressor")):
        cls = estimator_class(model, task)
        assert cls.__module__.startswith("sknn._estimators")
        assert cls.__name__ == model.upper().replace("TRANSFORMER", "Transformer") + kind


def test_params_are_literals_or_strings():
    params = parse_params(["hidden_layer_sizes=(64, 32)", "alpha=1e-3", "solver=sgd",
                           "early_stopping=True", "device=cuda:0", "x = 2"])
    assert params == {"hidden_layer_sizes": (64, 32), "alpha": 1e-3, "solver": "sgd",
                      "early_stopping": True, "device": "cuda:0", "x": 2}


@pytest.mark.parametrize("values, task", [
    (["a", "b", "a"], "classification"),
    ([True, False, True], "classification"),
    ([0, 1, 2, 1], "classification"),
    ([0.0, 1.0, 2.0], "classification"),
    ([0.5, 1.0, 2.0], "regression"),
    (list(range(50)), "regression"),
])
def test_task_detection(values, task):
    assert detect_task(pd.Series(values)) == task
    assert detect_task(pd.Series(values), "regression") == "regression"


# -- files of Pipelines ------------------------------------------------------------
def _pipeline_file(table, path, final=None):
    """A Pipeline (one-hot colours, then an sknn MLP) fitted on the table, saved to ``path``."""
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.read_csv(table)
    columns = make_column_transformer((OneHotEncoder(), ["color"]), remainder="passthrough")
    final = MLPClassifier(max_iter=1, ensemble_size=1, n_threads=1) if final is None else final
    pipe = make_pipeline(columns, final).fit(frame[["a", "b", "color"]], frame["label"])
    sknn.save(pipe, path)
    return pipe


def test_predict_and_evaluate_load_a_pipeline_file(capsys, table, tmp_path):
    pipe = _pipeline_file(table, tmp_path / "pipe.sknn")
    assert main(["predict", str(tmp_path / "pipe.sknn"), str(table), "--proba",
                 "-o", str(tmp_path / "p.csv")]) == 0
    predictions = pd.read_csv(tmp_path / "p.csv")
    frame = pd.read_csv(table)
    assert list(predictions.columns) == ["prediction", "proba_no", "proba_yes"]
    np.testing.assert_array_equal(predictions.prediction,
                                  pipe.predict(frame[["a", "b", "color"]]))
    assert main(["evaluate", str(tmp_path / "pipe.sknn"), str(table), "--target",
                 "label"]) == 0
    assert "Pipeline on 60 rows" in capsys.readouterr().out


def test_fit_saves_whatever_it_fits_in_one_file(capsys, table, tmp_path, monkeypatch):
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from sknn._cli import _main

    bare = _main.make_estimator
    monkeypatch.setattr(_main, "make_estimator",
                        lambda *args: make_pipeline(FunctionTransformer(), bare(*args)))
    assert main(["fit", str(table), "--target", "label", "--cv", "2", *FAST,
                 "--output", str(tmp_path / "m.sknn")]) == 0
    out = capsys.readouterr().out
    assert "Pipeline on 48 training rows" in out and " s (2 epochs)" in out
    loaded = sknn.load(tmp_path / "m.sknn")
    assert isinstance(loaded, Pipeline) and isinstance(loaded[-1], MLPClassifier)
    assert loaded[-1].verbose == 1 and loaded.verbose is False  # the progress bar
    assert main(["predict", str(tmp_path / "m.sknn"), str(table)]) == 0


def test_pipeline_files_that_cannot_be_used_are_one_line(capsys, table, tmp_path,
                                                          monkeypatch):
    from sklearn.decomposition import PCA
    from sklearn.model_selection import StratifiedKFold

    path = tmp_path / "pipe.sknn"
    _pipeline_file(table, path, final=PCA(2))
    err = error_line(capsys, ["predict", path])
    assert err == (f"sknn: error: {path} holds a Pipeline, not a classifier or regressor "
                   "like those `sknn fit` saves")
    pipe = _pipeline_file(table, path)
    pipe.splitter_ = StratifiedKFold(2)  # a type skops does not trust by default
    with pytest.warns(UserWarning, match="holds types that skops does not trust"):
        sknn.save(pipe, path)
    err = error_line(capsys, ["predict", path])
    assert err == (f"sknn: error: {path} asks for types that skops does not trust by "
                   "default: sklearn.model_selection._split.StratifiedKFold; refusing to "
                   "load it. Pass them in trusted=[...] only if you trust where the file "
                   "comes from. Create model files with `sknn fit` (or sknn.save).")
    monkeypatch.setitem(sys.modules, "skops.io", None)
    err = error_line(capsys, ["evaluate", path, table, "--target", "label"])
    assert err == ("sknn: error: files of scikit-learn objects (a Pipeline, a "
                   "ColumnTransformer, a search's best_estimator_, ...) need skops: pip "
                   'install "sknn[pipelines]". A bare sknn estimator saves and loads '
                   "without it.")


# -- usage, start-up and unusual CSVs (issue 26, item 5) ------------------------------------
def last_line_of_fresh_python(code: str, cwd=None) -> str:
    """The last line ``code`` prints in a new interpreter (nothing imported before)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=cwd, timeout=120)
    assert result.stdout.strip(), result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_help_answers_without_importing_torch(tmp_path):
    code = ("import sys, time; start = time.perf_counter(); from sknn._cli import main; "
            "status = main(['--help']); "
            "print(status, 'torch' in sys.modules, time.perf_counter() - start)")
    status, imported_torch, seconds = last_line_of_fresh_python(code, tmp_path).split()
    assert (status, imported_torch) == ("0", "False")
    assert float(seconds) < 1.0  # importing torch and skorch alone takes about 3 s


def test_import_sknn_is_cheap_until_a_public_name_is_used():
    code = ("import sys, sknn; before = 'torch' in sys.modules; sknn.MLPClassifier; "
            "print(before, 'torch' in sys.modules, 'sknn.callbacks' in sys.modules, "
            "sorted(set(sknn.__all__) - set(dir(sknn))))")
    assert last_line_of_fresh_python(code) == "False True True []"
    with pytest.raises(AttributeError, match="module 'sknn' has no attribute 'MLP'"):
        sknn.MLP  # noqa: B018


def test_public_submodules_are_attributes_of_a_bare_import_sknn():
    code = ("import sknn; print(sknn.modules.RNN.__name__, sknn.stream.fit_batches.__name__, "
            "callable(sknn.compression.prune), callable(sknn.export.to_onnx), "
            "sknn.inspection.TrainingCurveDisplay.__name__, 'inspection' in dir(sknn))")
    assert last_line_of_fresh_python(code) == (
        "RNN fit_batches True True TrainingCurveDisplay True")


@pytest.mark.parametrize("argv", [["nonsense"], ["fit", "--no-such-option"],
                                  ["fit", "--model", "svm"], ["fit", "--cv", "two"], []])
def test_usage_errors_exit_with_status_2_as_documented(capsys, argv):
    if not argv:  # no command at all runs the main job: not a usage error
        assert build_parser().parse_args(["benchmark", "--no-plot"]).plot is None
        return
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: sknn") and "sknn" in err.splitlines()[-1]
    assert "error:" in err.splitlines()[-1]


def test_help_exits_with_status_0(capsys):
    assert main(["predict", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--sep", "--na-values", "--decimal", "--encoding"):
        assert option in out


def test_semicolon_separated_oddly_coded_csv(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.normal(size=40).round(3)
    frame = pd.DataFrame({"a": a, "b": rng.normal(size=40).round(3),
                          "city": rng.choice(["Zürich", "Genève"], 40)})
    frame.loc[::7, "b"] = -999.0  # the file's code for a missing value
    frame["label"] = np.where(a > 0, "ja", "nein")
    path = tmp_path / "european.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False, encoding="latin-1")

    err = error_line(capsys, ["fit", path, "--target", "label"])
    assert err == (f"sknn: error: cannot read {path}: it is not utf-8 text (byte fc at "
                   "3); pass its encoding, for example --encoding latin-1")
    err = error_line(capsys, ["fit", path, "--target", "label", "--encoding", "latin-1"])
    assert err == (f"sknn: error: cannot read {path}: its header 'a;b;city;label' was "
                   "read as one column with --sep ','; the file seems separated by ';': "
                   "pass --sep ';'")

    from sknn._cli._common import read_table

    read = read_table(str(path), sep=";", na_values=["-999"], decimal=",",
                      encoding="latin-1")
    assert read["a"].dtype == np.float64 and np.allclose(read["a"], a)
    assert read["b"].isna().sum() == len(frame.loc[::7])
    assert set(read["city"]) == {"Zürich", "Genève"}

    output = tmp_path / "m.sknn"
    status = main(["fit", str(path), "--target", "label", "--sep", ";", "--decimal", ",",
                   "--na-values", "-999", "--encoding", "latin-1", "--cv", "0",
                   "-o", str(output), *FAST])
    assert status == 0
    model = sknn.load(output)
    assert list(model.feature_names_in_) == ["a", "b", "city"]
    assert model.encoder_.kinds == ["numeric", "numeric", "categorical"]
    assert model.encoder_.indicator_index == [1]  # -999 read as missing


def test_sep_backslash_t_as_a_shell_passes_it_reads_tabs(tmp_path):
    import warnings

    from sknn._cli._common import read_table

    path = tmp_path / "tabs.csv"
    path.write_text("a\tb\tlabel\n1\t2\tx\n3\t4\ty\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fall-back to pandas' regex parser
        frame = read_table(str(path), sep="\\t")
    assert list(frame.columns) == ["a", "b", "label"] and frame.shape == (2, 3)


def _with_overflowing_weights(model_file, path):
    """``model_file``'s model with huge weights, saved (re-signed) to ``path``."""
    model = sknn.load(model_file)
    with torch.no_grad():
        for parameter in model.net_.module_.parameters():
            parameter.fill_(torch.finfo(parameter.dtype).max / 10)  # finite; products overflow
    sknn.save(model, path)
    return path


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_overflowing_weights_blame_the_model_file_not_the_data(capsys, table, model_file,
                                                                tmp_path, command):
    edited = _with_overflowing_weights(model_file, tmp_path / "edited.sknn")
    err = error_line(capsys, [command, edited, table] + (["--target", "label"]
                                                          if command == "evaluate" else []))
    assert err.startswith(
        f"sknn: error: the model file {edited} is the likely cause: its network's outputs "
        f"are not finite on rows of {table} whose values are finite (MLPClassifier: the "
        "network's outputs are not finite on 60 of 60 rows of X, though these rows are "
        "finite as the network reads them: its weights are the likely cause")
    assert err.endswith("Its weights may be damaged or edited: re-create it with `sknn fit`, "
                        "or get an intact copy from its source.")
