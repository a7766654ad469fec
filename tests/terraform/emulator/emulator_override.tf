# What makes a root apply against the AWS emulator instead of AWS; the tests in
# tests/terraform copy this file into each root of their copy of terraform/, and
# nothing else uses it. Terraform merges an *_override.tf file into the blocks it
# names (developer.hashicorp.com/terraform/language/files/override).
#
# The emulator's URL comes from AWS_ENDPOINT_URL in the environment, which the AWS
# provider reads for every service, so the production roots carry no endpoint.

terraform {
  # Local state: the S3 backend is for deployments (<region>.backend.hcl).
  backend "local" {}
}

provider "aws" {
  # The emulator takes any key and has no instance metadata; its S3 is addressed by
  # path, since bucket subdomains of 127.0.0.1 do not resolve.
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
}
