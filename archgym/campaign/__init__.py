"""Floor 7 — campaigns: envs × agents × hyperparameter settings × seeds run through the loop
(locally or on Dask), and the two Parquet tables every report and analysis is computed from."""

from archgym.campaign.runs import (
    CAMPAIGN_META,
    Campaign,
    RunSpec,
    check_name,
    check_relative_path,
    compatible_pairs,
    execute_run,
    iter_specs,
    load_campaign,
    parse_campaign,
    run_campaign,
    runs_on_test_seeds,
    runs_on_tuning_seeds,
)
from archgym.campaign.tables import (
    EVALUATIONS_TABLE,
    RUNS_TABLE,
    best_so_far,
    evaluations_to_targets,
    final_of,
    write_tables,
)
from archgym.campaign.validation import VALIDATION_TABLE, agreement, validate_runs

__all__ = [
    "CAMPAIGN_META",
    "EVALUATIONS_TABLE",
    "RUNS_TABLE",
    "VALIDATION_TABLE",
    "Campaign",
    "RunSpec",
    "agreement",
    "best_so_far",
    "check_name",
    "check_relative_path",
    "compatible_pairs",
    "evaluations_to_targets",
    "execute_run",
    "final_of",
    "iter_specs",
    "load_campaign",
    "parse_campaign",
    "run_campaign",
    "runs_on_test_seeds",
    "runs_on_tuning_seeds",
    "validate_runs",
    "write_tables",
]
