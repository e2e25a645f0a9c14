"""Serving requests: the ZeroMQ service, the scoring pipeline (motion -> rhythm -> music -> metrics)
and the batch runner that scores shots in headless Blender."""
