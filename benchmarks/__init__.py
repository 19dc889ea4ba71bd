"""Speed benchmarks against the plain library calls; results as JSON in benchmarks/results/."""
