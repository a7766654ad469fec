# Used by scripts/deploy only: `terraform init -backend-config=backend.hcl`.
# The bucket and lock table are created once per account (docs/runbook.md).
bucket         = "yarracloud-terraform-state"
key            = "global.tfstate"
region         = "us-east-1"
dynamodb_table = "yarracloud-terraform-lock"
encrypt        = true
