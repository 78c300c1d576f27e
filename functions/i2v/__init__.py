"""i2v: the Lambda-side code of the image-to-video pipeline.

Layers: ``handlers`` (thin Lambda entry points) -> logic (``jobs``, ``polling``,
``notification``, ``submission``, ``storing``) -> adapters (``provider``, ``aws``).
Nothing here imports the CDK app, the command line or the local cloud.
"""
