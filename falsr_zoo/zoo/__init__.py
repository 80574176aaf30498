"""The zoo itself: the registry of named models and where their weights come from."""
