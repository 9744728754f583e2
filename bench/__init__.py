"""`python -m bench`: latency, throughput and memory of the four services on a stack of its own."""
