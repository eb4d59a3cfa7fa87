"""`pipeline report`: HTML and markdown views of the pipeline, kernels, duplicates and release plan."""
