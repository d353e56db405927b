"""Per-address abuse limits shared by every gateway of a cluster."""
