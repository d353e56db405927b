"""`gameserver up` as a supervisor: it starts the cluster's nodes, the gateways and the
worker, restarts whichever dies, and takes them all down with it."""
