"""The administration portal: sites, users and keys, mode settings, tasks, usage, billing."""
