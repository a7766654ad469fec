output "function_names" {
  description = "Handler name => function name."
  value       = { for key, fn in aws_lambda_function.function : key => fn.function_name }
}

output "api_invoke_arn" {
  description = "The api function's invoke ARN (for API Gateway)."
  value       = aws_lambda_function.function["api"].invoke_arn
}

output "api_function_name" {
  description = "The api function's name."
  value       = aws_lambda_function.function["api"].function_name
}

output "environment" {
  description = "The backend settings every function gets (no secrets)."
  value       = local.settings_environment
}
