variable "name" {
  description = "Name prefix."
  type        = string
}

variable "kms_key_arn" {
  description = "Key that encrypts the alarm topic."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each confirms by e-mail)."
  type        = list(string)
  default     = []
}

variable "dlq_names" {
  description = "Queue key => dead-letter queue name."
  type        = map(string)
}

variable "function_names" {
  description = "Handler => Lambda function name."
  type        = map(string)
}

variable "api_name" {
  description = "The REST API's name."
  type        = string
}

variable "api_stage" {
  description = "The REST API's stage."
  type        = string
}

variable "metrics_namespace" {
  description = "Namespace of the functions' own (EMF) metrics."
  type        = string
  default     = "YarraCloud"
}

variable "failed_task_percent" {
  description = "Alarm when more than this share of the last hour's finished tasks failed."
  type        = number
  default     = 20
}

variable "oldest_waiting_seconds" {
  description = "Alarm when a task has waited in SUBMITTED or RUNNABLE longer than this."
  type        = number
  default     = 3600
}

variable "oldest_runnable_seconds" {
  description = "Alarm when a Batch job has stayed RUNNABLE longer than this."
  type        = number
  default     = 1800
}

variable "api_5xx_per_5_minutes" {
  description = "Alarm when the API answers more 5xx than this in 5 minutes."
  type        = number
  default     = 5
}

variable "portal" {
  description = "The portal's load balancer and target group as CloudWatch names them (their arn_suffix); null where this region hosts no portal."
  type = object({
    load_balancer = string
    target_group  = string
  })
  default = null
}

variable "portal_5xx_per_5_minutes" {
  description = "Alarm when the portal, or its load balancer itself, answers more 5xx than this in 5 minutes."
  type        = number
  default     = 5
}

variable "portal_unhealthy_minutes" {
  description = "Alarm when a portal task has failed its health check for this many minutes in a row."
  type        = number
  default     = 3
}
