"""UNSW-NB15 data in three layers: `files` (find the folder, read and validate each CSV), `preprocessing` (category
codes and scaling fitted on training rows, and the checks on that fit) and `splits` (train / holdout / test /
unlabelled, ready for a model). `from mixer import data` gives the names below."""

from .files import (
    ATTACK_CATEGORY_COLUMN,
    BINARY_CLASS_NAMES,
    CATEGORICAL_COLUMNS,
    CATEGORICAL_POSITIONS,
    COURSEWORK_FILES,
    DATA_DIR_ENV,
    FEATURE_COLUMNS,
    ID_COLUMN,
    LABEL_COLUMN,
    N_FEATURES,
    NUMERIC_COLUMNS,
    PUBLIC_FILES,
    DataError,
    dataset_files,
    find_data_dir,
    read_table,
)
from .preprocessing import (
    DEFAULT_PREPROCESS,
    PREPROCESS_MODES,
    QUANTILE_CLIP,
    QUANTILE_KNOTS,
    CategoryEncoder,
    Preprocessor,
    collapsed_columns,
    far_out_of_range,
    feature_matrix,
    unseen_categories,
)
from .splits import (
    STATE_VERSION,
    TASKS,
    Split,
    UNSWData,
    data_state,
    drift_warnings,
    holdout_split,
    kfold_splits,
    load_prediction_csv,
    load_unsw,
    preprocessing_from_state,
)

__all__ = [
    "ATTACK_CATEGORY_COLUMN", "BINARY_CLASS_NAMES", "CATEGORICAL_COLUMNS", "CATEGORICAL_POSITIONS", "COURSEWORK_FILES",
    "DATA_DIR_ENV", "DEFAULT_PREPROCESS", "FEATURE_COLUMNS", "ID_COLUMN", "LABEL_COLUMN", "NUMERIC_COLUMNS",
    "N_FEATURES", "PREPROCESS_MODES", "PUBLIC_FILES", "QUANTILE_CLIP", "QUANTILE_KNOTS", "STATE_VERSION", "TASKS",
    "CategoryEncoder", "DataError", "Preprocessor", "Split", "UNSWData", "collapsed_columns", "data_state",
    "dataset_files", "drift_warnings", "far_out_of_range", "feature_matrix", "find_data_dir", "holdout_split",
    "kfold_splits", "load_prediction_csv", "load_unsw", "preprocessing_from_state", "read_table", "unseen_categories",
]
