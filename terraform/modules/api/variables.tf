variable "name" {
  description = "Name prefix."
  type        = string
}

variable "function_name" {
  description = "The api function's name."
  type        = string
}

variable "invoke_arn" {
  description = "The api function's invoke ARN."
  type        = string
}

variable "kms_key_arn" {
  description = "Key that encrypts the access log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long access logs are kept."
  type        = number
}

variable "stage" {
  description = "Stage name: the first path element of the API's URL."
  type        = string
  default     = "live"
}

variable "account_logging_role" {
  description = <<-EOT
    Set the region's API Gateway account settings to a role that lets API
    Gateway write logs (needed once per account and region for access logs).
    Emulator switch: the emulator does not serve the account settings.
    Production value: true.
  EOT
  type        = bool
  default     = true
}
