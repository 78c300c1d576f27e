"""Local HTTP simulator of the HighwayAPI "KLING V1.6 Image-to-Video" provider.

It stands for the outside world: it imports nothing from the pipeline, which knows it only by
URL. Entry points: ``highway_sim.config.SimConfig``, ``highway_sim.server.SimulatorServer`` and
``python -m highway_sim``.
"""
