variable "name" {
  description = "Name prefix."
  type        = string
}

variable "buckets" {
  description = "resources.json's buckets, resolved: key => {name, eventbridge, expire_days}."
  type        = any
}

variable "expire_days" {
  description = "Days after which objects expire, per bucket key; resources.json's value where absent."
  type        = map(number)
  default     = {}
}

variable "enforce_tls" {
  description = <<-EOT
    Attach the bucket policy that denies requests not made over TLS. Emulator
    switch: the local emulator serves plain HTTP and would refuse every request
    under it. Production value: true.
  EOT
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let destroy delete buckets that still hold objects (tests only)."
  type        = bool
  default     = false
}
