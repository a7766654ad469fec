region             = "us-east-1"
availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
vpc_cidr           = "10.40.0.0/16"
min_vcpus          = { spot = 0, on_demand = 0 }
portal             = true
