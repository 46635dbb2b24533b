"""Linear regression: simple (one feature) or multiple (all features) on Boston Housing, fit by SGD.

The model is the textbook one: standardized inputs (a ``Normalization`` layer adapted on the training
set, so the test set is scaled with the training statistics) followed by a single ``Dense(1)`` unit,
trained with the mean squared error by plain SGD.

Data: Boston Housing (506 suburbs, 13 features, median price in k$) when it is in the
kerasish.datasets cache; offline, scikit-learn's diabetes set (442 patients, 10 features, disease
progression after one year), which needs no download.

Sections:
    data.features: ``all`` (multiple linear regression), ``one`` (simple linear regression on the
        dataset's classic single predictor: RM, rooms per dwelling, for Boston; bmi for diabetes), or
        the name of one column (Boston: CRIM ZN INDUS CHAS NOX RM AGE DIS RAD TAX PTRATIO B LSTAT;
        diabetes: age sex bmi bp s1 s2 s3 s4 s5 s6).
    data.test_split: fraction of the samples held out as the test set (0.05..0.5).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.use_bias: whether the Dense unit has an intercept.
Metrics: test MSE and MAE (from ``evaluate``) and test R^2 = 1 - SS_res / SS_tot (NumPy), plus the
number of features used.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

import kerasish
from kerasish import layers
from kerasish.runs import Section

BOSTON_FEATURES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT")
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
SINGLE = {"boston_housing": "RM", "diabetes": "bmi"}


class Data(Section):
    features: Literal[("all", "one", *BOSTON_FEATURES, *DIABETES_FEATURES)] = "all"
    test_split: float = Field(0.2, ge=0.05, le=0.5)
    limit: int | None = Field(None, ge=2)


class Model(Section):
    use_bias: bool = True


SECTIONS = {"data": Data, "model": Model}
DEFAULTS = {"compile": {"optimizer": "sgd", "learning_rate": 0.01}, "fit": {"epochs": 100, "batch_size": 32}}
SMOKE = ["fit.epochs=2", "data.limit=200"]


def load(ctx, data: Data):
    """The train/test arrays (float32), the dataset's name and the names of the chosen columns."""
    def diabetes():
        return kerasish.datasets.diabetes.load_data(test_split=data.test_split)

    (x, y), (xt, yt) = ctx.load_dataset("boston_housing", fallback=diabetes,
                                        fallback_name="scikit-learn diabetes (regression, 10 features)",
                                        test_split=data.test_split)
    name = "boston_housing" if x.shape[1] == len(BOSTON_FEATURES) else "diabetes"
    names = BOSTON_FEATURES if name == "boston_housing" else DIABETES_FEATURES
    if data.features == "all":
        columns = list(range(len(names)))
    else:
        feature = SINGLE[name] if data.features == "one" else data.features
        if feature not in names:
            raise kerasish.ConfigError(f"data.features: {feature!r} is not a column of {name}; allowed: all, one, "
                                       f"{', '.join(names)}.")
        columns = [names.index(feature)]
    x, xt = x[:, columns].astype("float32"), xt[:, columns].astype("float32")
    if data.limit:
        x, y = x[:data.limit], y[:data.limit]
    return (x, y.astype("float32")), (xt, yt.astype("float32")), name, [names[c] for c in columns]


def build(x_train: np.ndarray, m: Model):
    norm = layers.Normalization(name="standardize")
    norm.adapt(x_train)  # training statistics only: the test set must not leak into the scaling
    return kerasish.Sequential([kerasish.Input((x_train.shape[1],)), norm,
                                layers.Dense(1, use_bias=m.use_bias, name="linear")], name="linear_regression")


def r_squared(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The coefficient of determination: 1 - SS_res / SS_tot."""
    y_true, y_pred = np.asarray(y_true, np.float64).ravel(), np.asarray(y_pred, np.float64).ravel()
    ss_res = np.sum((y_true - y_pred) ** 2)
    ss_tot = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else float("nan")


def run(config, ctx):
    (x, y), (xt, yt), name, columns = load(ctx, config.data)
    kind = "simple" if len(columns) == 1 else "multiple"
    ctx.log(f"{kind.capitalize()} linear regression of the {name} target on {', '.join(columns)} "
            f"({len(x)} training, {len(xt)} test samples).")
    model = build(x, config.model)
    ctx.compile(model, loss="mse", metrics=["mae"])
    ctx.fit(model, x, y)
    scores = model.evaluate(xt, yt, verbose=0, return_dict=True)
    r2 = r_squared(yt, model.predict(xt, verbose=0))
    metrics = {"test_mse": float(scores["loss"]), "test_mae": float(scores["mae"]), "test_r2": r2,
               "features": len(columns)}
    ctx.log(f"Test MSE {metrics['test_mse']:.3f}, MAE {metrics['test_mae']:.3f}, R^2 {r2:.4f}")
    return model, metrics
