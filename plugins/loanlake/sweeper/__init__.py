"""The orphan sweeper: clusters, training jobs and models that outlived their runs."""
