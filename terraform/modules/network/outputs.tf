output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.main.id
}

output "vpc_cidr" {
  description = "The VPC's address range."
  value       = aws_vpc.main.cidr_block
}

output "private_subnet_ids" {
  description = "Subnets without a route from the internet (workers, RDS, portal tasks)."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Subnets for the load balancer and the NAT gateway."
  value       = aws_subnet.public[*].id
}
