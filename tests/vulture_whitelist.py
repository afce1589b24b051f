"""Names vulture (tests/test_dead_code.py, --min-confidence 60) reports that are used in ways it cannot see.

Not a module to import: vulture reads these names as used. Add a name only with the reason it is not dead.
"""
# ruff: noqa
# fmt: off
_ = object()

# Looked up by name from a table: the strategy registry (tlcore/strategies/registry.py, "module:Class" strings)
Cdan; Distillation; FixMatch; GradualUnfreezing; InstanceWeighting; LinearProbe; Mcc; Mcd; Multitask; Scratch
SelfTraining; Coral; Mmd; TrAdaBoost; SKADA_STRATEGIES
# ... the task job kinds (tlcore/jobs/tasks.py TASKS, "module:function" strings) and the producers table
check_embeddings; check_shift; run_embeddings; run_shift; produce
check_predict; check_export; check_compress; run_predict; run_export; run_compress
check_query; run_query; check_label_curve; run_label_curve
check_count; run_count; check_ranking; run_ranking

# Attributes set for a library that reads them: transformers configs/tokenizers, ONNX Runtime session options,
# sqlite3 connections
_.id2label; _.label2id; _.problem_type; _.architectures; _.hidden_dropout_prob; _.attention_probs_dropout_prob
_.model_max_length; _.intra_op_num_threads; _.inter_op_num_threads; _.graph_optimization_level
_.log_severity_level; _.row_factory

# The signature signal.signal requires (tlcore/jobs/worker.py on_signal)
signum; frame

# Data fields read through dataclasses.asdict / JSON rather than by attribute
reads; paper; adopted; heartbeat; best_val_acc; _.best_val_acc

# Not reviewed yet (issue 24 item 7): used only by tests, benchmarks or another issue's work in progress.
# Each is either kept for a reason written here or removed; listed so the check passes meanwhile.
clear_cache; extraction_command; confident_mistakes; reference_config; _.from_folder; _.group_names
bottleneck_of; PATTERNS; _.has_predictions; last_child_peak_mb; embedding_scatter
