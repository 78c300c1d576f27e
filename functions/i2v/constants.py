"""Names, defaults and limits shared by the functions, the CDK app and the local cloud.

The CDK app imports from the functions' side only this module and the pure contracts
(``i2v.contracts``), so an environment variable, a table key, a default or a time budget is
spelled once.
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
ENV_WAKE_QUEUE_URL = "I2V_WAKE_QUEUE_URL"  # a message here wakes the dispatcher
ENV_UPLOADS_QUEUE_URL = "I2V_UPLOADS_QUEUE_URL"  # the intake's own queue: a batch file's rows go back on it
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
ENV_JOB_RETENTION_DAYS = "I2V_JOB_RETENTION_DAYS"  # store: records expire (DynamoDB TTL) this long after the end
ENV_PRICES = "I2V_PRICES"  # JSON: {"Standard": {"5": 0.13, ...}, ...} over the defaults (i2v.contracts.prices)
ENV_BUDGET_DAILY = "I2V_BUDGET_DAILY_USD"
ENV_BUDGET_MONTHLY = "I2V_BUDGET_MONTHLY_USD"
ENV_BUDGET_ACTION = "I2V_BUDGET_ACTION"  # wait | fail
ENV_TRIGGER = "I2V_TRIGGER"  # "images": images and job files start jobs; "job-files": only job and batch files do
ENV_IMAGE_GRACE = "I2V_IMAGE_GRACE_SECONDS"  # an image waits this long for a job file that may name it
ENV_EVENT_BUS = "I2V_EVENT_BUS"  # store: the EventBridge bus (name, or "default") the notifications also go to
ENV_POWERTOOLS_SERVICE = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"

# --- the functions, and the environment each one reads (nothing else is given to it) ----------
FN_INTAKE = "intake"  # S3 events -> validated jobs parked in the backlog
FN_DISPATCH = "dispatch"  # backlog -> provider submissions -> workflows, as capacity frees
FN_STATUS = "status"  # one poll of the provider per workflow step
FN_STORE = "store"  # video to S3, manifest, the one notification
FUNCTIONS = (FN_INTAKE, FN_DISPATCH, FN_STATUS, FN_STORE)
_OBSERVABILITY = (ENV_POWERTOOLS_SERVICE, ENV_POWERTOOLS_NAMESPACE)
FUNCTION_ENV: dict[str, tuple[str, ...]] = {
    FN_INTAKE: (ENV_BUCKET, ENV_UPLOADS_PREFIX, ENV_OUTPUTS_PREFIX, ENV_DEFAULTS, ENV_JOBS_TABLE, ENV_CONTROL_TABLE,
                ENV_STATE_MACHINE_ARN, ENV_WAKE_QUEUE_URL, ENV_UPLOADS_QUEUE_URL, ENV_TRIGGER, ENV_IMAGE_GRACE,
                *_OBSERVABILITY),
    FN_DISPATCH: (ENV_BUCKET, ENV_JOBS_TABLE, ENV_CONTROL_TABLE, ENV_IDEMPOTENCY_TABLE, ENV_STATE_MACHINE_ARN,
                  ENV_WAKE_QUEUE_URL, ENV_API_KEY_SECRET, ENV_PROVIDER_URL, ENV_MAX_IN_FLIGHT, ENV_SUBMITS_PER_MINUTE,
                  ENV_DEADLINE_STANDARD, ENV_DEADLINE_PROFESSIONAL, ENV_SUBMIT_MAX_ATTEMPTS, ENV_IMAGE_URL_TTL,
                  ENV_PRICES, ENV_BUDGET_DAILY, ENV_BUDGET_MONTHLY, ENV_BUDGET_ACTION,
                  *_OBSERVABILITY),
    FN_STATUS: (ENV_JOBS_TABLE, ENV_API_KEY_SECRET, ENV_PROVIDER_URL, *_OBSERVABILITY),
    FN_STORE: (ENV_BUCKET, ENV_TOPIC_ARN, ENV_JOBS_TABLE, ENV_CONTROL_TABLE, ENV_WAKE_QUEUE_URL, ENV_PROVIDER_URL,
               ENV_URL_POLICY, ENV_MAX_VIDEO_BYTES, ENV_DOWNLOAD_URL_TTL, ENV_MAX_IN_FLIGHT,
               ENV_SUBMITS_PER_MINUTE, ENV_JOB_RETENTION_DAYS, ENV_EVENT_BUS, *_OBSERVABILITY),
}
# Read by every function when set, and set only by local runs: never part of a deployed function's environment.
LOCAL_ONLY_ENV = (ENV_API_KEY, ENV_TIME_SCALE)
# Given in AWS, absent in local runs (where HIGHWAY_API_KEY holds the key instead of a secret).
OPTIONAL_ENV = (ENV_API_KEY_SECRET, ENV_BUDGET_DAILY, ENV_BUDGET_MONTHLY)  # no budget variable: no limit

# --- tables: keys and indexes the functions query and the stack creates -----------------------
JOBS_TABLE_KEY = "job_id"
IDEMPOTENCY_TABLE_KEY = "id"  # Powertools' DynamoDBPersistenceLayer default
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
CONTROL_TABLE_KEY = "pk"
CONTROL_TTL_ATTRIBUTE = "expires_at"
JOBS_TTL_ATTRIBUTE = "expires_at"
BACKLOG_INDEX = "backlog"  # sparse GSI of the jobs table: only jobs waiting in the backlog have its keys
BACKLOG_LANE = "backlog_lane"  # partition key: the job's priority
BACKLOG_ORDER = "backlog_order"  # sort key: upload time, then job id (first in, first out)
BACKLOG_PROJECTED = ("status", "claimed_until", "not_before", "uploaded_at")

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
DEFAULT_JOB_RETENTION_DAYS = 90  # job records expire (DynamoDB TTL) this long after they end
BUDGET_WAIT = "wait"  # a job that would pass a spend budget waits for the next period (or a raised budget)
BUDGET_FAIL = "fail"  # ... or fails with BUDGET_EXCEEDED
BUDGET_ACTIONS = (BUDGET_WAIT, BUDGET_FAIL)
TRIGGER_IMAGES = "images"
TRIGGER_JOB_FILES = "job-files"
TRIGGERS = (TRIGGER_IMAGES, TRIGGER_JOB_FILES)
DEFAULT_TRIGGER = TRIGGER_IMAGES
DEFAULT_EVENT_BUS = "default"  # the account's default EventBridge bus
EVENT_SOURCE = "i2v"  # the `source` of every event the pipeline puts on EventBridge
DEFAULT_IMAGE_GRACE_SECONDS = 10  # long enough for a job file uploaded together with its images
DISPATCH_SCHEDULE_SECONDS = 60  # the dispatcher's safety-net wake (a finishing job wakes it at once)
URL_POLICY_PUBLIC_HTTPS = "public-https"
URL_POLICY_LOOPBACK_HTTP = "loopback-http"

# --- job conventions -----------------------------------------------------------------------------
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
JOB_FILE_SUFFIX = ".json"
BATCH_SUFFIXES = (".csv", ".jsonl")  # one job per row
MAX_BATCH_BYTES = 16 * 1024 * 1024
MAX_BATCH_ROWS = 100_000
BATCH_CHUNK_ROWS = 10  # rows per message when a batch fans out (each row is a few S3 and DynamoDB requests)
BATCH_SCHEMA = "i2v.batch/v1"
SUMMARY_SUFFIX = ".summary.json"
DEFAULTS_FILE_NAME = "_defaults.json"
MANIFEST_SUFFIX = ".json"
VIDEO_SUFFIX = ".mp4"

# --- provider rules (docs/provider.md) ------------------------------------------------------------
MODES = ("Standard", "Professional")
DURATIONS = (5, 10)
PROMPT_MAX = 2000
IMAGE_MAX_BYTES = 10 * 1024 * 1024
IMAGE_MIN_SIDE = 300
ASPECT_MIN = 1 / 2.5
ASPECT_MAX = 2.5

# --- workflow ------------------------------------------------------------------------------------
EXECUTION_NAME_PREFIX = "job-"

# --- time budget: every limit derives from these, so an inner call always ends before its caller ---
HTTP_CONNECT_SECONDS = 5
PROVIDER_READ_SECONDS = 20
PROVIDER_CALL_SECONDS = HTTP_CONNECT_SECONDS + PROVIDER_READ_SECONDS  # one provider request, at most
VIDEO_READ_SECONDS = 60  # between two chunks of the video download
AWS_CALL_SECONDS = 10  # botocore connect + read timeout of one AWS request (it retries within the call)
FUNCTION_TIMEOUT_SECONDS = {
    FN_INTAKE: 60,  # a batch of up to 10 records, each a few S3 and DynamoDB requests
    FN_DISPATCH: 120,  # starts jobs while capacity is free; stops taking new ones near the end
    FN_STATUS: PROVIDER_CALL_SECONDS + 2 * AWS_CALL_SECONDS,  # one poll and one table write
    FN_STORE: 300,  # stream up to maxVideoBytes into S3
}
# Stop taking a new record / job when less than this is left: one more never outlives the function.
INTAKE_RECORD_BUDGET_SECONDS = 6 * AWS_CALL_SECONDS // 2
# A batch file's fan-out, or a chunk of its rows, stops after this long and puts what is left back on the
# upload queue as a message of its own: a file of any size is taken in steps that fit the record budget.
BATCH_STEP_SECONDS = INTAKE_RECORD_BUDGET_SECONDS // 2
DISPATCH_JOB_BUDGET_SECONDS = PROVIDER_CALL_SECONDS + 3 * AWS_CALL_SECONDS
# Lambda's guidance for SQS event sources: visibility timeout at least six times the function's timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
# A dispatcher's claim on a job outlives the dispatcher, so a live claim is never taken twice.
DISPATCH_CLAIM_SECONDS = FUNCTION_TIMEOUT_SECONDS[FN_DISPATCH] + 30
MAX_RECEIVE_COUNT = 5  # deliveries of an upload event before it moves to the dead-letter queue

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
METRIC_QUEUED = "JobsQueued"  # valid jobs parked in the backlog
METRIC_BACKLOG_JOBS = "BacklogJobs"  # jobs waiting in the backlog
METRIC_BACKLOG_OLDEST = "BacklogOldestSeconds"  # age of the oldest waiting job, from its upload
METRIC_REUSED = "VideosReused"  # copied from an earlier video of the same content: not paid again
METRIC_REUSE_SAVED_USD = "ReuseSavedUsd"
METRIC_SPEND_TODAY_USD = "SpendTodayUsd"
METRIC_SPEND_MONTH_USD = "SpendMonthUsd"
METRIC_BUDGET_WAITS = "BudgetWaits"  # a job that would have passed a budget
METRIC_SUBMIT_OUTCOME_UNKNOWN = "SubmitOutcomeUnknown"  # paid but possibly undelivered: alarmed
METRIC_SKIPPED = "ObjectsSkipped"
METRIC_DUPLICATES = "DuplicateEvents"
