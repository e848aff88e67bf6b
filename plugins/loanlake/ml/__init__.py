"""The credit-risk model: features, training, the deployment gate, drift."""
