# The state of us-east-1: scripts/deploy runs `terraform init -backend-config=us-east-1.backend.hcl`.
# The bucket and lock table are created once per account (docs/runbook.md).
bucket         = "yarracloud-terraform-state"
key            = "regions/us-east-1.tfstate"
region         = "us-east-1"
dynamodb_table = "yarracloud-terraform-lock"
encrypt        = true
