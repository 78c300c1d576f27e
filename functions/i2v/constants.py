"""Names and defaults shared by the functions, the CDK app and the local cloud.

The CDK app imports this module (and only this one) from the functions' side, so
an environment variable or a default is spelled once.
"""

from __future__ import annotations

SERVICE_NAME = "i2v"
METRICS_NAMESPACE = "I2VPipeline"
NOTIFICATION_SCHEMA = "i2v.notification/v1"

# --- environment variables read by the functions (see settings.py) ---------------------------
ENV_BUCKET = "I2V_BUCKET"
ENV_UPLOADS_PREFIX = "I2V_UPLOADS_PREFIX"
ENV_OUTPUTS_PREFIX = "I2V_OUTPUTS_PREFIX"
ENV_TOPIC_ARN = "I2V_TOPIC_ARN"
ENV_STATE_MACHINE_ARN = "I2V_STATE_MACHINE_ARN"
ENV_QUEUE_URL = "I2V_QUEUE_URL"
ENV_JOBS_TABLE = "I2V_JOBS_TABLE"
ENV_IDEMPOTENCY_TABLE = "I2V_IDEMPOTENCY_TABLE"
ENV_CONTROL_TABLE = "I2V_CONTROL_TABLE"
ENV_API_KEY_SECRET = "I2V_API_KEY_SECRET"  # name or ARN of the Secrets Manager secret
ENV_API_KEY = "HIGHWAY_API_KEY"  # local runs only; in AWS the key comes from Secrets Manager
ENV_PROVIDER_URL = "HIGHWAY_API_BASE_URL"
ENV_DEFAULTS = "I2V_DEFAULTS"  # JSON object of stack-level default parameters
ENV_MAX_IN_FLIGHT = "I2V_MAX_IN_FLIGHT"
ENV_SUBMITS_PER_MINUTE = "I2V_SUBMITS_PER_MINUTE"
ENV_DEADLINE_STANDARD = "I2V_DEADLINE_STANDARD_SECONDS"
ENV_DEADLINE_PROFESSIONAL = "I2V_DEADLINE_PROFESSIONAL_SECONDS"
ENV_TIME_SCALE = "I2V_TIME_SCALE"  # > 1 only in local runs: waits and deadlines are divided by it
ENV_URL_POLICY = "I2V_URL_POLICY"  # "public-https" (AWS) or "loopback-http" (local runs)
ENV_MAX_VIDEO_BYTES = "I2V_MAX_VIDEO_BYTES"
ENV_DOWNLOAD_URL_TTL = "I2V_DOWNLOAD_URL_TTL_SECONDS"
ENV_IMAGE_URL_TTL = "I2V_IMAGE_URL_TTL_SECONDS"
ENV_SUBMIT_MAX_ATTEMPTS = "I2V_SUBMIT_MAX_ATTEMPTS"

# --- defaults ------------------------------------------------------------------------------------
DEFAULT_PROVIDER_URL = "https://api.highwayapi.ai"
DEFAULT_UPLOADS_PREFIX = "uploads/"
DEFAULT_OUTPUTS_PREFIX = "outputs/"
DEFAULT_PROMPT = "Gentle camera motion bringing the scene to life, natural lighting, high quality"
DEFAULT_MODE = "Standard"
DEFAULT_DURATION = 5
DEFAULT_GUIDANCE_SCALE = 0.5
DEFAULT_MAX_IN_FLIGHT = 10
DEFAULT_SUBMITS_PER_MINUTE = 20  # the provider's published limit for this model
DEFAULT_DEADLINE_STANDARD = 15 * 60  # seconds from submission; observed generation 1 to 3 min
DEFAULT_DEADLINE_PROFESSIONAL = 30 * 60  # observed generation 5 to 7 min
DEFAULT_MAX_VIDEO_BYTES = 512 * 1024 * 1024
DEFAULT_DOWNLOAD_URL_TTL = 3600  # presigned download URL in the notification; Lambda role credentials do not outlive a few hours
DEFAULT_IMAGE_URL_TTL = 15 * 60  # presigned GET the provider uses to fetch the image
DEFAULT_SUBMIT_MAX_ATTEMPTS = 6  # 5xx / connection failures before the job fails
URL_POLICY_PUBLIC_HTTPS = "public-https"
URL_POLICY_LOOPBACK_HTTP = "loopback-http"

# --- job conventions -----------------------------------------------------------------------------
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
JOB_FILE_SUFFIX = ".json"
DEFAULTS_FILE_NAME = "_defaults.json"
MANIFEST_SUFFIX = ".json"
VIDEO_SUFFIX = ".mp4"

# --- provider rules (PROVIDER_API.md) ------------------------------------------------------------
MODES = ("Standard", "Professional")
DURATIONS = (5, 10)
PROMPT_MAX = 2000
IMAGE_MAX_BYTES = 10 * 1024 * 1024
IMAGE_MIN_SIDE = 300
ASPECT_MIN = 1 / 2.5
ASPECT_MAX = 2.5

# --- workflow ------------------------------------------------------------------------------------
EXECUTION_NAME_PREFIX = "job-"

# --- metric names --------------------------------------------------------------------------------
METRIC_SUBMITTED = "TasksSubmitted"
METRIC_SUCCEEDED = "VideosSucceeded"
METRIC_FAILED = "VideosFailed"
METRIC_GENERATION_SECONDS = "GenerationSeconds"
METRIC_UPLOAD_TO_NOTIFICATION = "UploadToNotificationSeconds"
METRIC_POLLS = "PollsPerJob"
METRIC_PROVIDER_ERRORS = "ProviderErrors"
METRIC_PROVIDER_ERRORS_BY_REASON = "ProviderErrorsByReason"  # dimension: reason
METRIC_FAILED_BY_CODE = "VideosFailedByCode"  # dimension: error_code
METRIC_BYTES_STORED = "BytesStored"
METRIC_DEFERRED = "SubmissionsDeferred"
METRIC_SKIPPED = "ObjectsSkipped"
METRIC_DUPLICATES = "DuplicateEvents"
