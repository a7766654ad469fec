variable "name" {
  description = "Name prefix (resources.json's prefix)."
  type        = string
}

variable "description" {
  description = "resources.json, resolved."
  type        = any
}

variable "zip_path" {
  description = "The Lambda package that scripts/deploy builds from functions/."
  type        = string
}

variable "kms_key_arn" {
  description = "The region's key (tables, buckets, environment, logs)."
  type        = string
}

variable "queue_arns" {
  description = "Queue key => ARN."
  type        = map(string)
}

variable "table_arns" {
  description = "Table key => ARN."
  type        = map(string)
}

variable "bucket_arns" {
  description = "Bucket key => ARN."
  type        = map(string)
}

variable "job_queue_arns" {
  description = "Job queue key => ARN."
  type        = map(string)
}

variable "job_definition_arn_prefix" {
  description = "The worker's job definition ARN without its revision."
  type        = string
}

variable "log_retention_days" {
  description = "How long function logs are kept."
  type        = number
}

variable "sentry_dsn" {
  description = "The Sentry DSN (read from SSM by the root); null: no Sentry."
  type        = string
  default     = null
  sensitive   = true
}

variable "stripe_secret_arn" {
  description = "The Secrets Manager secret holding Stripe's key and ids (its value is set by scripts/admin stripe setup)."
  type        = string
}

variable "environment" {
  description = "The environment name reported to Sentry and in logs."
  type        = string
  default     = "production"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' own metrics."
  type        = string
  default     = "YarraCloud"
}

variable "sqs_event_source_mappings" {
  description = <<-EOT
    Connect each queue to its function. Emulator switch: the emulator would
    try to run the functions in containers itself, while the local runtime
    polls the queues instead. Production value: true.
  EOT
  type        = bool
  default     = true
}

variable "schedule_targets" {
  description = <<-EOT
    Point each schedule's rule at its function. Emulator switch: the emulator
    matches every event against a rule without a pattern and fails on a
    Lambda target, which stops S3 and Batch events from reaching the queues;
    the local runtime runs the schedules itself. Production value: true.
  EOT
  type        = bool
  default     = true
}

variable "reserved_concurrency" {
  description = "Function name => reserved concurrency; absent: the account's unreserved pool."
  type        = map(number)
  default     = {}
}

variable "access" {
  description = <<-EOT
    What each function may touch: table keys, buckets it reads, buckets it
    deletes in, and Batch actions (submit, describe, terminate). A function
    not listed gets every table and nothing else.
  EOT
  type = map(object({
    tables         = list(string)
    read_buckets   = list(string)
    delete_buckets = list(string)
    batch          = list(string)
  }))
  default = {
    api = {
      tables         = ["task", "site", "user", "mode_catalog", "mode_settings", "usage", "usage_rollup", "idempotency"]
      read_buckets   = ["in", "out"]
      delete_buckets = []
      batch          = ["submit", "describe", "terminate"]
    }
    submit = {
      tables         = ["task", "site", "user", "mode_catalog", "mode_settings", "idempotency"]
      read_buckets   = ["in"]
      delete_buckets = []
      batch          = ["submit", "describe"]
    }
    job_state = {
      tables         = ["task", "site", "user", "usage", "usage_rollup", "billing_outbox", "idempotency"]
      read_buckets   = ["in", "out"]
      delete_buckets = []
      batch          = ["describe"]
    }
    sweeper = {
      tables         = ["task", "site", "user", "mode_catalog", "mode_settings", "usage", "usage_rollup", "billing_outbox", "idempotency"]
      read_buckets   = ["in", "out"]
      delete_buckets = ["in"]
      batch          = ["submit", "describe"]
    }
    billing_reconcile = {
      tables         = ["billing_outbox", "site", "usage_rollup"]
      read_buckets   = []
      delete_buckets = []
      batch          = []
    }
    billing_outbox = {
      tables         = ["billing_outbox", "site", "usage", "usage_rollup"]
      read_buckets   = []
      delete_buckets = []
      batch          = []
    }
  }
}
