provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "yarracloud"
      ManagedBy = "terraform"
    }
  }
}
