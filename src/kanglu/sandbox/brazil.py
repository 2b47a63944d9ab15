"""Static Brazilian data the generated dataset draws from: names, places, shops and products."""

from __future__ import annotations

FIRST_NAMES = (
    "Ana", "Maria", "Juliana", "Fernanda", "Patrícia", "Aline", "Camila", "Bruna", "Letícia", "Larissa",
    "Beatriz", "Gabriela", "Mariana", "Vanessa", "Luciana", "Renata", "Tatiane", "Débora", "Sônia", "Cláudia",
    "Francisca", "Antônia", "Raimunda", "Isabela", "Yasmin", "José", "João", "Antônio", "Francisco", "Carlos",
    "Paulo", "Pedro", "Lucas", "Luiz", "Marcos", "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo",
    "Bruno", "Eduardo", "Felipe", "Raimundo", "Rodrigo", "Thiago", "Matheus", "Gustavo", "Leandro", "Vinícius",
    "Henrique", "Guilherme", "Otávio", "Caio", "Joaquim", "Sebastião", "Edson", "Wellington", "Ícaro", "Cauã",
)

SURNAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes",
    "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes", "Vieira", "Barbosa",
    "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas",
    "Cardoso", "Ramos", "Gonçalves", "Santana", "Teixeira", "Araújo", "Cavalcanti", "Monteiro", "Pinheiro", "Castro",
    "Conceição", "Brandão", "Figueiredo", "Coelho", "Queiroz", "Sampaio", "Bezerra", "Tavares", "Xavier", "Magalhães",
)

# City, UF, and the range of its CEPs (8 digits).
CITIES = (
    ("São Paulo", "SP", 1000000, 5999999),
    ("Campinas", "SP", 13000000, 13139999),
    ("Santos", "SP", 11000000, 11099999),
    ("Ribeirão Preto", "SP", 14000000, 14114999),
    ("São José dos Campos", "SP", 12200000, 12248999),
    ("Sorocaba", "SP", 18000000, 18109999),
    ("Rio de Janeiro", "RJ", 20000000, 23799999),
    ("Niterói", "RJ", 24000000, 24399999),
    ("Petrópolis", "RJ", 25600000, 25779999),
    ("Belo Horizonte", "MG", 30000000, 31999999),
    ("Uberlândia", "MG", 38400000, 38415999),
    ("Juiz de Fora", "MG", 36000000, 36099999),
    ("Vitória", "ES", 29000000, 29099999),
    ("Curitiba", "PR", 80000000, 82999999),
    ("Londrina", "PR", 86000000, 86099999),
    ("Florianópolis", "SC", 88000000, 88099999),
    ("Joinville", "SC", 89200000, 89239999),
    ("Porto Alegre", "RS", 90000000, 91999999),
    ("Caxias do Sul", "RS", 95000000, 95124999),
    ("Salvador", "BA", 40000000, 42599999),
    ("Feira de Santana", "BA", 44000000, 44099999),
    ("Recife", "PE", 50000000, 52999999),
    ("Fortaleza", "CE", 60000000, 61599999),
    ("Natal", "RN", 59000000, 59161999),
    ("João Pessoa", "PB", 58000000, 58099999),
    ("Maceió", "AL", 57000000, 57099999),
    ("Aracaju", "SE", 49000000, 49098999),
    ("Teresina", "PI", 64000000, 64099999),
    ("São Luís", "MA", 65000000, 65099999),
    ("Belém", "PA", 66000000, 66999999),
    ("Manaus", "AM", 69000000, 69099999),
    ("Porto Velho", "RO", 76800000, 76834999),
    ("Rio Branco", "AC", 69900000, 69923999),
    ("Boa Vista", "RR", 69300000, 69339999),
    ("Macapá", "AP", 68900000, 68914999),
    ("Palmas", "TO", 77000000, 77249999),
    ("Goiânia", "GO", 74000000, 74899999),
    ("Brasília", "DF", 70000000, 72799999),
    ("Campo Grande", "MS", 79000000, 79124999),
    ("Cuiabá", "MT", 78000000, 78109999),
)

# Weights of the cities: the big capitals sell the most.
CITY_WEIGHTS = tuple(8 if i in (0, 6, 9) else 3 if i < 20 else 1 for i in range(len(CITIES)))

STREET_KINDS = ("Rua", "Rua", "Rua", "Avenida", "Avenida", "Travessa", "Alameda", "Praça", "Estrada", "Rodovia")
STREET_NAMES = (
    "das Flores", "XV de Novembro", "Sete de Setembro", "Tiradentes", "Dom Pedro II", "Getúlio Vargas",
    "Santos Dumont", "Marechal Deodoro", "Barão do Rio Branco", "das Acácias", "dos Andradas", "Independência",
    "São João", "Paulista", "Brasil", "Amazonas", "Rui Barbosa", "Castro Alves", "Machado de Assis",
    "José Bonifácio", "Princesa Isabel", "Duque de Caxias", "Floriano Peixoto", "dos Bandeirantes",
    "Presidente Vargas", "Joaquim Nabuco", "Quintino Bocaiúva", "Bento Gonçalves", "Anita Garibaldi",
    "Coronel Fabriciano", "Cel. José Pedro", "do Comércio", "das Palmeiras", "dos Ipês", "Sabará",
)
DISTRICTS = (
    "Centro", "Centro", "Jardim América", "Vila Nova", "Boa Vista", "Santa Cecília", "Bela Vista", "Copacabana",
    "Savassi", "Batel", "Moinhos de Vento", "Pituba", "Boa Viagem", "Aldeota", "Jardim Botânico", "Vila Mariana",
    "Tijuca", "Liberdade", "Santo Amaro", "Cidade Nova", "Jardim Paulista", "Industrial", "São Cristóvão",
    "Parque das Nações", "Vila Olímpia",
)
COMPLEMENTS = ("Apto 12", "Apto 304", "Casa 2", "Bloco B, Apto 41", "Fundos", "Sala 1203", "Loja 3", "Cj. 5")

EMAIL_DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "hotmail.com", "outlook.com", "yahoo.com.br", "uol.com.br",
                 "bol.com.br", "terra.com.br", "icloud.com")

# Mobile DDDs of the UFs above, by UF.
DDD = {
    "SP": (11, 19, 13, 16, 12, 15), "RJ": (21, 22, 24), "MG": (31, 34, 32), "ES": (27,), "PR": (41, 43),
    "SC": (48, 47), "RS": (51, 54), "BA": (71, 75), "PE": (81,), "CE": (85,), "RN": (84,), "PB": (83,),
    "AL": (82,), "SE": (79,), "PI": (86,), "MA": (98,), "PA": (91,), "AM": (92,), "RO": (69,), "AC": (68,),
    "RR": (95,), "AP": (96,), "TO": (63,), "GO": (62,), "DF": (61,), "MS": (67,), "MT": (65,),
}

# Sales channels: e-commerce name as Tiny shows it, channel label, and how its order numbers look.
ECOMMERCES = (
    ("Mercado Livre", "Mercado Livre", "MLB"),
    ("Shopee", "Shopee", "SHP"),
    ("Amazon", "Amazon", "AMZ"),
    ("Magalu", "Magazine Luiza", "MGL"),
    ("Nuvemshop", "Loja virtual", "NVS"),
    ("Loja Integrada", "Loja virtual", "LIN"),
    ("Tray", "Loja virtual", "TRY"),
)

COMPANY_SUFFIXES = ("Comércio de", "Distribuidora de", "Loja de", "Ateliê de", "Empório de")
PRODUCT_LINES = (
    "Cosméticos", "Artigos Esportivos", "Roupas", "Calçados", "Eletrônicos", "Utilidades Domésticas",
    "Brinquedos", "Papelaria", "Acessórios", "Produtos Naturais",
)

PRODUCTS = (
    ("CAM-001", "Camiseta básica algodão", 59.9),
    ("CAM-002", "Camiseta estampada", 79.9),
    ("CAL-010", "Calça jeans slim", 189.9),
    ("TEN-100", "Tênis de corrida", 349.0),
    ("MOC-020", "Mochila executiva", 229.5),
    ("GAR-003", "Garrafa térmica 1L", 89.0),
    ("FON-404", "Fone de ouvido bluetooth", 199.99),
    ("CAP-050", "Capinha de celular", 29.9),
    ("CRE-007", "Creme hidratante 200ml", 45.5),
    ("PER-090", "Perfume 100ml", 259.0),
    ("LIV-123", "Livro de receitas", 64.9),
    ("CAD-002", "Caderno universitário", 24.9),
    ("BRI-300", "Quebra-cabeça 1000 peças", 119.9),
    ("RELO-77", "Relógio digital", 149.0),
    ("OCU-011", "Óculos de sol", 98.0),
    ("KIT-500", "Kit de panelas antiaderente", 499.9),
    ("LUM-010", "Luminária de mesa LED", 134.9),
    ("BOL-045", "Bolsa de couro", 279.0),
    ("MEI-004", "Meias esportivas (kit 3)", 39.9),
    ("SUP-800", "Suplemento whey 900g", 159.9),
)
