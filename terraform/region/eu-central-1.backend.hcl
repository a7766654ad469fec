# The state of eu-central-1: scripts/deploy runs `terraform init -backend-config=eu-central-1.backend.hcl`.
# The bucket and lock table are created once per account (docs/runbook.md).
bucket         = "yarracloud-terraform-state"
key            = "regions/eu-central-1.tfstate"
region         = "us-east-1"
dynamodb_table = "yarracloud-terraform-lock"
encrypt        = true
