"""What ops look at: one module per concern (stats, health, explain, activity, tuning, schema),
all read from the live catalogs under the ops role with short timeouts (common)."""
