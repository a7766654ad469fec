region             = "eu-central-1"
availability_zones = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
vpc_cidr           = "10.41.0.0/16"
min_vcpus          = { spot = 0, on_demand = 0 }
portal             = false
