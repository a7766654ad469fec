terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
  # State lives in S3 with a DynamoDB lock table, one state per region:
  # scripts/deploy passes <region>.backend.hcl to `terraform init`.
  backend "s3" {}
}
