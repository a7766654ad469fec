output "resources" {
  description = "resources.json with every placeholder resolved."
  value       = jsondecode(local.resolved)
}
