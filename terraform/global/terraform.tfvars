region  = "us-east-1"
regions = ["us-east-1", "eu-central-1"]
