variable "prefix" {
  description = "Name prefix of every resource (resources.json's {prefix})."
  type        = string
}

variable "region" {
  description = "The region the names are resolved for."
  type        = string
}

variable "account" {
  description = "The AWS account id."
  type        = string
}

variable "partition" {
  description = "The AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
  default     = "aws"
}
