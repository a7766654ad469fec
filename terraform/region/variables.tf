variable "region" {
  description = "The AWS region this root deploys."
  type        = string
}

variable "prefix" {
  description = "resources.json's {prefix}."
  type        = string
  default     = "yarracloud"
}

variable "lambda_zip" {
  description = "The functions' package, built by scripts/deploy."
  type        = string
  default     = "../../build/functions.zip"
}

variable "availability_zones" {
  description = "Zones of the subnets."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "The VPC's address range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "log_retention_days" {
  description = "How long logs are kept."
  type        = number
  default     = 90
}

variable "expire_days" {
  description = "Bucket key => days after which objects expire (default: resources.json)."
  type        = map(number)
  default     = {}
}

variable "min_vcpus" {
  description = "Compute environment key (spot, on_demand) => vCPUs kept warm; 0 scales to nothing."
  type        = map(number)
  default     = {}
}

variable "worker_image_tag" {
  description = "The recon_image tag the job definition runs (scripts/deploy sets it)."
  type        = string
  default     = "latest"
}

variable "sentry_dsn_parameter" {
  description = "SSM SecureString parameter holding the Sentry DSN; null: no Sentry."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "Addresses the alarms are mailed to."
  type        = list(string)
  default     = []
}

variable "portal" {
  description = "Host the portal and its database in this region."
  type        = bool
  default     = false
}

variable "portal_certificate_arn" {
  description = "The portal's ACM certificate in this region (terraform/global output)."
  type        = string
  default     = null
}

variable "portal_image_tag" {
  description = "The portal image tag to run."
  type        = string
  default     = "latest"
}

variable "deletion_protection" {
  description = "Protect tables, the database and the load balancer from deletion."
  type        = bool
  default     = true
}

variable "force_destroy_buckets" {
  description = "Let destroy delete buckets that still hold objects (throw-away stacks only)."
  type        = bool
  default     = false
}
