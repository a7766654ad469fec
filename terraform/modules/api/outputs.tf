output "url" {
  description = "The API's base URL (the agent's api_url)."
  value       = aws_api_gateway_stage.live.invoke_url
}

output "api_name" {
  description = "The REST API's name (CloudWatch's ApiName dimension)."
  value       = aws_api_gateway_rest_api.api.name
}

output "stage" {
  description = "The stage name (CloudWatch's Stage dimension)."
  value       = aws_api_gateway_stage.live.stage_name
}
