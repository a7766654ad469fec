variable "queues" {
  description = "resources.json's queues, resolved."
  type        = any
}

variable "rules" {
  description = "resources.json's rules, resolved (pattern placeholders already filled in)."
  type        = any
}

variable "kms_key_arn" {
  description = "Key that encrypts the queues."
  type        = string
}
