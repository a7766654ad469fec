# The account-wide state: `terraform init -backend-config=backend.hcl` (terraform/README.md).
# The bucket and lock table are created once per account (docs/runbook.md).
bucket         = "yarracloud-terraform-state"
key            = "global.tfstate"
region         = "us-east-1"
dynamodb_table = "yarracloud-terraform-lock"
encrypt        = true
