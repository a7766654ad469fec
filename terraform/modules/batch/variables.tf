variable "name" {
  description = "Name prefix."
  type        = string
}

variable "batch" {
  description = "resources.json's batch section, resolved."
  type        = any
}

variable "subnet_ids" {
  description = "Private subnets the workers run in (no public IPs)."
  type        = list(string)
}

variable "vpc_id" {
  description = "The workers' VPC."
  type        = string
}

variable "min_vcpus" {
  description = "Compute environment key => vCPUs kept running (a warm pool skips minutes of instance start-up; 0 scales to nothing)."
  type        = map(number)
  default     = {}
}

variable "instance_types" {
  description = "Instance families the compute environments may start."
  type        = list(string)
  default     = ["c6i", "c7i", "m6i", "m7i"]
}

variable "image_tag" {
  description = "The recon_image tag the job definition runs (scripts/deploy pushes it)."
  type        = string
  default     = "latest"
}

variable "kms_key_arn" {
  description = "The region's key (buckets, logs, ECR)."
  type        = string
}

variable "bucket_arns" {
  description = "Bucket key => ARN (the worker reads in, writes out)."
  type        = map(string)
}

variable "log_retention_days" {
  description = "How long job logs are kept."
  type        = number
}

variable "sentry_dsn" {
  description = "The Sentry DSN the worker reports to (from SSM); null: none."
  type        = string
  default     = null
  sensitive   = true
}
