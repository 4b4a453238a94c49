"""After (and during) a search: Pareto fronts and hypervolume, reports, plots, model export."""
